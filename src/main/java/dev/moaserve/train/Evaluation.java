package dev.moaserve.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.model.Djl;
import dev.moaserve.model.FullForward;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.MoaWeights;

import java.util.ArrayList;
import java.util.List;

/**
 * Language-model loss over a token stream in non-overlapping blocks of the model's context
 * (block b predicts tokens bL+1 … bL+L from the tokens before each within the block, as
 * nanoGPT's estimate does).
 *
 * <p>{@link #generationLoss} is the honest number: every prediction comes from its prefix only
 * (incremental decoding, i.e. the generation semantics). {@link #fullForwardLoss} runs one full
 * forward per block, which lets later tokens of a routing window leak into earlier positions;
 * it is a lower bound, reported so the gap is visible.
 */
public final class Evaluation {
    /** Mean loss in nats per token and the number of tokens predicted. */
    public record Loss(double loss, long tokens) {}

    private Evaluation() {}

    public static Loss generationLoss(MoaWeights w, int[] data, int batch) {
        if (w.config().routedWindowSize() >= w.config().seqLen()) {
            // one routing window spans the whole context: nothing is routed, the forward is
            // causal, and the full forward's loss is exactly the generation-semantics loss
            return fullForwardLoss(w, data, Math.min(batch, 16));
        }
        Djl.inferenceThread();
        int seq = w.config().seqLen();
        int v = w.config().numTokens();
        int blocks = (data.length - 1) / seq;
        double total = 0;
        try (IncrementalDecoder dec = new IncrementalDecoder(w, Math.min(batch, Math.max(1, blocks)),
                IncrementalDecoder.Recompute.LAZY)) {
            for (int first = 0; first < blocks; first += batch) {
                int n = Math.min(batch, blocks - first);
                List<DecodeState> states = new ArrayList<>();
                try {
                    for (int i = 0; i < n; i++) {
                        states.add(dec.newState());
                    }
                    for (int t = 0; t < seq; t++) {
                        long[] toks = new long[n];
                        for (int i = 0; i < n; i++) {
                            toks[i] = data[(first + i) * seq + t];
                        }
                        float[][] logits = dec.decode(states, toks);
                        for (int i = 0; i < n; i++) {
                            total -= logProb(logits[i], data[(first + i) * seq + t + 1], v);
                        }
                    }
                } finally {
                    states.forEach(DecodeState::close);
                }
            }
        }
        long tokens = (long) blocks * seq;
        return new Loss(total / tokens, tokens);
    }

    public static Loss fullForwardLoss(MoaWeights w, int[] data, int batch) {
        Djl.inferenceThread();
        int seq = w.config().seqLen();
        int blocks = (data.length - 1) / seq;
        double total = 0;
        for (int first = 0; first < blocks; first += batch) {
            int n = Math.min(batch, blocks - first);
            long[] x = new long[n * seq];
            long[] y = new long[n * seq];
            for (int i = 0; i < n; i++) {
                for (int t = 0; t < seq; t++) {
                    x[i * seq + t] = data[(first + i) * seq + t];
                    y[i * seq + t] = data[(first + i) * seq + t + 1];
                }
            }
            try (NDManager m = w.manager().newSubManager(); NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray logits = FullForward.logits(w, m, m.create(x, new Shape(n, seq)), null);
                NDArray ce = Trainer.crossEntropy(logits, m.create(y, new Shape(n, seq)), w.config().numTokens());
                total += ce.getFloat() * (double) (n * seq);
            }
        }
        long tokens = (long) blocks * seq;
        return new Loss(total / tokens, tokens);
    }

    /** log softmax(logits)[target], in double precision. */
    static double logProb(float[] logits, int target, int v) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) {
            max = Math.max(max, logits[i]);
        }
        double sum = 0;
        for (int i = 0; i < v; i++) {
            sum += Math.exp(logits[i] - max);
        }
        return logits[target] - max - Math.log(sum);
    }
}

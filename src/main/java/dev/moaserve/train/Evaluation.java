package dev.moaserve.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.model.Djl;
import dev.moaserve.model.FullForward;
import dev.moaserve.model.DecodeMode;
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

    /** Told how many of the tokens to predict are done, as the work goes on. */
    @FunctionalInterface
    public interface Progress {
        Progress NONE = (done, total) -> { };

        void tokensDone(long done, long total);
    }

    private Evaluation() {}

    /** Tokens an evaluation of {@code data} predicts: whole context blocks only. */
    public static long tokens(int[] data, int seqLen) {
        return (long) ((data.length - 1) / seqLen) * seqLen;
    }

    /**
     * The first whole blocks of {@code data} that predict at most {@code tokens} tokens (at least
     * one block): a bounded evaluation of a long split.
     */
    public static int[] firstTokens(int[] data, long tokens, int seqLen) {
        long blocks = Math.max(1, Math.min(tokens / seqLen, (data.length - 1) / seqLen));
        return java.util.Arrays.copyOf(data, (int) (blocks * seqLen + 1));
    }

    public static Loss generationLoss(MoaWeights w, int[] data, int batch) {
        return generationLoss(w, data, batch, Progress.NONE);
    }

    public static Loss generationLoss(MoaWeights w, int[] data, int batch, Progress progress) {
        return generationLoss(w, data, batch, DecodeMode.EXACT, progress);
    }

    /**
     * The loss of next-token predictions decoded in {@code mode}: {@link DecodeMode#EXACT} is the
     * model's generation semantics; {@link DecodeMode#FROZEN} shows what frozen-prefix decoding
     * costs in prediction quality.
     */
    public static Loss generationLoss(MoaWeights w, int[] data, int batch, DecodeMode mode, Progress progress) {
        if (w.config().routedWindowSize() >= w.config().seqLen()) {
            // one routing window spans the whole context: nothing is routed, the forward is
            // causal, and the full forward's loss is exactly the generation-semantics loss
            return fullForwardLoss(w, data, Math.min(batch, 16), progress);
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
                        states.add(dec.newState(mode));
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
                        progress.tokensDone((long) first * seq + (long) n * (t + 1), (long) blocks * seq);
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
        return fullForwardLoss(w, data, batch, Progress.NONE);
    }

    public static Loss fullForwardLoss(MoaWeights w, int[] data, int batch, Progress progress) {
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
            progress.tokensDone((long) (first + n) * seq, (long) blocks * seq);
        }
        long tokens = (long) blocks * seq;
        return new Loss(total / tokens, tokens);
    }

    /** log softmax(logits)[target], in double precision: what eval adds up per predicted token. */
    public static double logProb(float[] logits, int target, int v) {
        return dev.moaserve.model.Numerics.logSoftmax(logits, v)[target];
    }
}

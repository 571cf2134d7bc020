package dev.moaserve.engine;

import ai.djl.ndarray.types.DataType;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.Numerics;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CancellationException;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BooleanSupplier;

/**
 * Prompt log-probabilities ({@code echo} with {@code logprobs}) under the model's generation
 * semantics: the prompt is decoded one token per step, exactly as {@code eval} decodes a text, so
 * position t's value is the log-probability exact decoding gives token t after tokens 0..t−1.
 * Off the engine's loop: one thread with its own one-slot decoder (same weights), a bounded queue;
 * each prompt is bounded by seq_len steps.
 */
public final class PromptScorer implements AutoCloseable {
    /**
     * @param logprobs    per position, log p(token t | tokens before it); position 0 has none (NaN)
     * @param topTokens   per position, the most probable tokens there, most probable first
     * @param topLogprobs their log-probabilities
     */
    public record Scores(double[] logprobs, int[][] topTokens, double[][] topLogprobs) {}

    private final MoaWeights weights;
    private final DataType dtype;
    private final OffLoopWorker worker;
    private IncrementalDecoder decoder; // created on the worker thread at first use

    public PromptScorer(MoaWeights weights, DataType dtype, int maxQueue) {
        this.weights = weights;
        this.dtype = dtype;
        this.worker = new OffLoopWorker("moa-prompt-scorer", maxQueue);
    }

    /**
     * The scores of {@code ids} with {@code top} alternatives per position; {@link
     * RejectedExecutionException} when full. Once {@code abandoned} says so (the client left, its
     * time ran out), the prompt is not started, or stops at its next token, with {@link CancellationException}.
     */
    public CompletableFuture<Scores> score(long[] ids, int top, BooleanSupplier abandoned) {
        return worker.submit(() -> run(ids, top, abandoned), abandoned);
    }

    private Scores run(long[] ids, int top, BooleanSupplier abandoned) {
        if (decoder == null) {
            decoder = new IncrementalDecoder(weights, 1, IncrementalDecoder.Recompute.LAZY, dtype);
        }
        int n = ids.length;
        int v = weights.config().numTokens();
        double[] logprobs = new double[n];
        int[][] topTokens = new int[n][];
        double[][] topLogprobs = new double[n][];
        logprobs[0] = Double.NaN;
        topTokens[0] = new int[0];
        topLogprobs[0] = new double[0];
        try (DecodeState s = decoder.newState()) {
            for (int t = 0; t + 1 < n; t++) {
                if (abandoned.getAsBoolean()) {
                    throw new CancellationException("abandoned after " + t + " of " + n + " tokens");
                }
                float[] logits = decoder.decode(List.of(s), new long[] {ids[t]})[0];
                double[] lp = Numerics.logSoftmax(logits, v);
                logprobs[t + 1] = lp[(int) ids[t + 1]];
                int[] best = Numerics.topIndices(lp, Math.min(top, v));
                topTokens[t + 1] = best;
                topLogprobs[t + 1] = new double[best.length];
                for (int i = 0; i < best.length; i++) {
                    topLogprobs[t + 1][i] = lp[best[i]];
                }
            }
        }
        return new Scores(logprobs, topTokens, topLogprobs);
    }

    /** Finishes the prompts already queued (each bounded by seq_len steps), then frees the decoder. */
    @Override
    public void close() {
        worker.close();
        if (decoder != null && worker.terminated()) {
            decoder.close();
        }
    }
}

package dev.moaserve.engine;

import ai.djl.ndarray.types.DataType;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.Djl;
import dev.moaserve.model.MoaWeights;

import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

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
    private final ThreadPoolExecutor pool;
    private IncrementalDecoder decoder; // created on the worker thread at first use

    public PromptScorer(MoaWeights weights, DataType dtype, int maxQueue) {
        this.weights = weights;
        this.dtype = dtype;
        this.pool = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(Math.max(1, maxQueue)), r -> {
            Thread t = new Thread(() -> {
                Djl.inferenceThread();
                r.run();
            }, "moa-prompt-scorer");
            t.setDaemon(true);
            return t;
        });
    }

    /** The scores of {@code ids} with {@code top} alternatives per position; {@link RejectedExecutionException} when full. */
    public CompletableFuture<Scores> score(long[] ids, int top) {
        return CompletableFuture.supplyAsync(() -> run(ids, top), pool);
    }

    private Scores run(long[] ids, int top) {
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
                float[] logits = decoder.decode(List.of(s), new long[] {ids[t]})[0];
                double[] lp = logSoftmax(logits, v);
                logprobs[t + 1] = lp[(int) ids[t + 1]];
                int[] best = topIndices(lp, Math.min(top, v));
                topTokens[t + 1] = best;
                topLogprobs[t + 1] = new double[best.length];
                for (int i = 0; i < best.length; i++) {
                    topLogprobs[t + 1][i] = lp[best[i]];
                }
            }
        }
        return new Scores(logprobs, topTokens, topLogprobs);
    }

    /** log softmax in double precision (as eval computes it). */
    private static double[] logSoftmax(float[] logits, int v) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) {
            max = Math.max(max, logits[i]);
        }
        double sum = 0;
        for (int i = 0; i < v; i++) {
            sum += Math.exp(logits[i] - max);
        }
        double log = Math.log(sum);
        double[] out = new double[v];
        for (int i = 0; i < v; i++) {
            out[i] = logits[i] - max - log;
        }
        return out;
    }

    /** The k largest entries' indices, largest first, ties to the lower index. */
    private static int[] topIndices(double[] x, int k) {
        int[] idx = new int[k];
        int size = 0;
        for (int i = 0; i < x.length && k > 0; i++) {
            if (size == k && !(x[i] > x[idx[size - 1]])) {
                continue;
            }
            int at = size == k ? size - 1 : size++;
            while (at > 0 && x[idx[at - 1]] < x[i]) {
                idx[at] = idx[at - 1];
                at--;
            }
            idx[at] = i;
        }
        return idx;
    }

    /** Finishes the prompts already queued (each bounded by seq_len steps), then frees the decoder. */
    @Override
    public void close() {
        pool.shutdown();
        try {
            if (!pool.awaitTermination(10, TimeUnit.SECONDS)) {
                pool.shutdownNow();
            }
        } catch (InterruptedException e) {
            pool.shutdownNow();
            Thread.currentThread().interrupt();
        }
        if (decoder != null && pool.isTerminated()) {
            decoder.close();
        }
    }
}

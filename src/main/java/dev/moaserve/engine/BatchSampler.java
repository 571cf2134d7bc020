package dev.moaserve.engine;

import ai.djl.ndarray.NDArray;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.decode.SampleBatch;

import java.util.ArrayList;
import java.util.List;

/**
 * The host side of sampling a step's sequences: packs each row's parameters, its next uniform
 * (drawn from its own seeded generator, so a seeded request gives the same tokens alone or in
 * any batch), penalties and structured-output mask for the step program's sampler, which runs
 * in the same call as the step (penalties, the mask, greedy or temperature → top-k → top-p →
 * min-p → a draw, over at most {@link #MAX_CANDIDATES} candidates by partial selection); then
 * reads the sampled tokens, their log-probabilities and the requested top alternatives back.
 */
public final class BatchSampler {
    /** Sampling considers at most this many most-probable tokens (top-p and min-p work inside them). */
    public static final int MAX_CANDIDATES = 1024;

    private BatchSampler() {}

    /** How many candidates a draw over a vocabulary of {@code v} considers. */
    static int candidates(int v) {
        return Math.min(v, MAX_CANDIDATES);
    }

    /**
     * Packs the sampling of {@code rows} for the step program (its {@code sample} has the
     * layout): per-row parameters with each row's next uniform, the penalised entries and, when
     * a row is constrained, the additive structured-output mask.
     *
     * @param index for each row, which of the step's sequences it samples
     */
    public static SampleBatch prepare(List<Sampler> rows, long[] index, int v) {
        int s = rows.size();
        boolean anySampled = false;
        long[][] masks = new long[s][];
        boolean anyConstrained = false;
        int maxTopK = 0;
        boolean unbounded = false;
        int logprobs = 0;
        for (int i = 0; i < s; i++) {
            Sampler r = rows.get(i);
            masks[i] = r.mask(); // once per row and step: it is a cache lookup, the loop below runs V times
            anySampled |= !r.greedy();
            anyConstrained |= masks[i] != null;
            logprobs = Math.max(logprobs, Math.min(r.params().logprobs(), v));
            if (!r.greedy()) {
                if (r.params().topK() > 0) {
                    maxTopK = Math.max(maxTopK, r.params().topK());
                } else {
                    unbounded = true;
                }
            }
        }
        int k = unbounded ? candidates(v) : Math.min(candidates(v), Math.max(1, maxTopK));
        Penalties pen = penalties(rows, v);
        int p = pen.rows.length;
        float[] f = new float[6 * s + 3 * p + (anyConstrained ? s * v : 0)];
        for (int i = 0; i < s; i++) {
            Sampler r = rows.get(i);
            SamplingParams q = r.params();
            boolean g = r.greedy();
            f[6 * i] = g ? 1f : (float) q.temperature();
            f[6 * i + 1] = q.topK() > 0 ? q.topK() : k;
            f[6 * i + 2] = (float) q.topP();
            f[6 * i + 3] = (float) q.minP();
            f[6 * i + 4] = g ? 0f : (float) r.nextUniform();
            f[6 * i + 5] = g ? 1f : 0f;
        }
        System.arraycopy(pen.a, 0, f, 6 * s, p);
        System.arraycopy(pen.b, 0, f, 6 * s + p, p);
        System.arraycopy(pen.c, 0, f, 6 * s + 2 * p, p);
        if (anyConstrained) {
            int at = 6 * s + 3 * p;
            for (int i = 0; i < s; i++) {
                if (masks[i] == null) {
                    continue;
                }
                for (int t = 0; t < v; t++) {
                    if (!Sampler.allows(masks[i], t)) {
                        f[at + i * v + t] = Float.NEGATIVE_INFINITY;
                    }
                }
            }
        }
        long[] ints = new long[s + 2 * p];
        System.arraycopy(index, 0, ints, 0, s);
        System.arraycopy(pen.rows, 0, ints, s, p);
        System.arraycopy(pen.tokens, 0, ints, s + p, p);
        return SampleBatch.of(f, ints, s, p, k, logprobs, anySampled, anyConstrained);
    }

    /** The rows' choices from the program's output ({@code batch.width()} floats per row); each sampler takes its token. */
    public static Sampler.Choice[] finish(float[] out, List<Sampler> rows, SampleBatch batch, int v) {
        int width = batch.width();
        int logprobs = (width - 2) / 2;
        Sampler.Choice[] choices = new Sampler.Choice[rows.size()];
        for (int i = 0; i < rows.size(); i++) {
            Sampler r = rows.get(i);
            int t = (int) out[i * width];
            r.take(t);
            int n = Math.min(r.params().logprobs(), v);
            int[] ids = new int[n];
            double[] lps = new double[n];
            for (int j = 0; j < n; j++) {
                ids[j] = (int) out[i * width + 2 + j];
                lps[j] = out[i * width + 2 + logprobs + j];
            }
            choices[i] = new Sampler.Choice(t, out[i * width + 1], ids, lps);
        }
        return choices;
    }

    /** Samples every row of logits [S, V] already on the device with the decoder's sampler program. */
    public static Sampler.Choice[] sample(IncrementalDecoder decoder, NDArray logits, List<Sampler> rows) {
        int v = (int) logits.getShape().get(1);
        long[] index = new long[rows.size()];
        for (int i = 0; i < index.length; i++) {
            index[i] = i;
        }
        SampleBatch batch = prepare(rows, index, v);
        return finish(decoder.sample(logits, batch), rows, batch, v);
    }

    /** Penalised (row, token) entries: l' = (l > 0 ? l·a : l·b) − c, with c including the logit bias. */
    private record Penalties(long[] rows, long[] tokens, float[] a, float[] b, float[] c) {}

    /** Each row's penalties on the tokens it has seen, and its logit bias. */
    private static Penalties penalties(List<Sampler> rows, int v) {
        List<long[]> at = new ArrayList<>();
        List<float[]> by = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            Sampler r = rows.get(i);
            if (!r.adjusted()) {
                continue;
            }
            SamplingParams q = r.params();
            for (int t = 0; t < v; t++) {
                int n = r.count(t);
                float bias = r.bias(t);
                if (n > 0) {
                    at.add(new long[] {i, t});
                    by.add(new float[] {(float) (1 / q.repetitionPenalty()), (float) q.repetitionPenalty(),
                            (float) (q.presencePenalty() + q.frequencyPenalty() * n) - bias});
                } else if (bias != 0f) {
                    at.add(new long[] {i, t});
                    by.add(new float[] {1f, 1f, -bias});
                }
            }
        }
        int n = at.size();
        Penalties p = new Penalties(new long[n], new long[n], new float[n], new float[n], new float[n]);
        for (int j = 0; j < n; j++) {
            p.rows[j] = at.get(j)[0];
            p.tokens[j] = at.get(j)[1];
            p.a[j] = by.get(j)[0];
            p.b[j] = by.get(j)[1];
            p.c[j] = by.get(j)[2];
        }
        return p;
    }
}

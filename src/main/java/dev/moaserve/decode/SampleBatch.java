package dev.moaserve.decode;

/**
 * A step's sampling, packed on the host for the step program's {@code sample} (its comment has
 * the layout): which of the step's sequences to sample, the per-row parameters and uniforms,
 * penalised entries and the structured-output mask. The program returns {@code width} floats per
 * sampled row: token, its log-probability, then the top alternatives' ids and log-probabilities.
 */
public record SampleBatch(float[] floats, long[] ints, long[] meta, int width) {
    /** The sampler's integers, in this order; the program reads them by these names ({@code s_rows}, …). */
    public enum Meta {
        ROWS, PENALISED, CANDIDATES, LOGPROBS, ANY_SAMPLED, MASKED,
        /** 1 when the rows to sample are the logits' first rows in order (no gather needed). */
        IN_ORDER
    }

    /** A batch whose integers are given by name. */
    public static SampleBatch of(float[] floats, long[] ints, int rows, int penalised, int candidates, int logprobs,
                                 boolean anySampled, boolean masked) {
        long[] meta = new long[Meta.values().length];
        meta[Meta.ROWS.ordinal()] = rows;
        meta[Meta.PENALISED.ordinal()] = penalised;
        meta[Meta.CANDIDATES.ordinal()] = candidates;
        meta[Meta.LOGPROBS.ordinal()] = logprobs;
        meta[Meta.ANY_SAMPLED.ordinal()] = anySampled ? 1 : 0;
        meta[Meta.MASKED.ordinal()] = masked ? 1 : 0;
        boolean inOrder = true;
        for (int r = 0; r < rows && inOrder; r++) {
            inOrder = ints[r] == r;
        }
        meta[Meta.IN_ORDER.ordinal()] = inOrder ? 1 : 0;
        return new SampleBatch(floats, ints, meta, 2 + 2 * logprobs);
    }

    /** Rows sampled. */
    public int rows() {
        return (int) meta[Meta.ROWS.ordinal()];
    }
}

package dev.moaserve.decode;

/**
 * A step's sampling, packed on the host for the step program's {@code sample} (its comment has
 * the layout): which of the step's sequences to sample, the per-row parameters and uniforms,
 * penalised entries and the structured-output mask. The program returns {@code width} floats per
 * sampled row: token, its log-probability, then the top alternatives' ids and log-probabilities.
 */
public record SampleBatch(float[] floats, long[] ints, long[] meta, int width) {
    /** Rows sampled. */
    public int rows() {
        return (int) meta[0];
    }
}

package dev.moaserve.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.model.EncoderForward;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.Safetensors;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code verify} for a MoA encoder: the forward on the vectors' padded batch ({@code tokens},
 * {@code mask}) against {@code output} and every {@code hidden.<l>} at the real positions, and
 * each sequence alone (unpadded) against its row of the batch.
 */
public final class EncoderVerify {
    public static final double TOLERANCE = 1e-4;
    /** Batched vs alone: the same arithmetic on a different layout. */
    public static final double BATCH_TOLERANCE = 1e-5;

    private EncoderVerify() {}

    public record Result(double maxAbsOutput, double maxAbsHidden, double maxAbsBatchedVsAlone) {
        public boolean passed() {
            return maxAbsOutput <= TOLERANCE && maxAbsHidden <= TOLERANCE && maxAbsBatchedVsAlone <= BATCH_TOLERANCE;
        }

        public String line() {
            return String.format(Locale.ROOT, "encoder max_abs_output=%.3g max_abs_hidden=%.3g max_abs_batched_vs_alone=%.3g",
                    maxAbsOutput, maxAbsHidden, maxAbsBatchedVsAlone);
        }
    }

    public static Result verify(EncoderWeights w, Safetensors vectors) {
        long[] shape = vectors.entry("tokens").shape();
        int b = (int) shape[0], n = (int) shape[1], d = w.config().dim();
        int depth = w.config().shape().depth();
        if (!vectors.entries().containsKey("mask") || !vectors.entries().containsKey("output")) {
            throw new IllegalArgumentException("encoder vectors need 'tokens', 'mask' and 'output'");
        }
        int[] lengths = lengths(vectors, "mask");
        try (NDManager m = w.manager().newSubManager()) {
            NDArray ids = m.create(vectors.longs("tokens"), new Shape(b, n));
            List<NDArray> hidden = new ArrayList<>();
            float[] out = EncoderForward.forward(w, m, ids, lengths, hidden).toFloatArray();
            double output = maxDiff(out, vectors.floats("output"), lengths, n, d);
            double hid = 0;
            for (int l = 0; l < depth; l++) {
                if (vectors.entries().containsKey("hidden." + l)) {
                    hid = Math.max(hid, maxDiff(hidden.get(l).toFloatArray(), vectors.floats("hidden." + l), lengths, n, d));
                }
            }
            double apart = 0;
            for (int i = 0; i < b; i++) {
                float[] alone = EncoderForward.forward(w, m, ids.get(i + ":" + (i + 1) + ", 0:" + lengths[i]),
                        new int[] {lengths[i]}, null).toFloatArray();
                for (int j = 0; j < alone.length; j++) {
                    apart = Math.max(apart, Math.abs(alone[j] - out[i * n * d + j]));
                }
            }
            return new Result(output, hid, apart);
        }
    }

    /** Real tokens per row of a [B, N] 0/1 mask tensor (padding at the end of each row). */
    public static int[] lengths(Safetensors vectors, String mask) {
        long[] m = vectors.longs(mask);
        long[] shape = vectors.entry(mask).shape();
        int[] out = new int[(int) shape[0]];
        for (int b = 0; b < out.length; b++) {
            for (int t = 0; t < shape[1]; t++) {
                out[b] += (int) m[(int) (b * shape[1] + t)];
            }
        }
        return out;
    }

    /** Largest |got − want| over the real positions of [B, N, D] tensors. */
    public static double maxDiff(float[] got, FloatBuffer want, int[] lengths, int n, int d) {
        double worst = 0;
        for (int b = 0; b < lengths.length; b++) {
            for (int t = 0; t < lengths[b]; t++) {
                for (int j = 0; j < d; j++) {
                    int at = (b * n + t) * d + j;
                    worst = Math.max(worst, Math.abs(got[at] - want.get(at)));
                }
            }
        }
        return worst;
    }
}

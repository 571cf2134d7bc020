package dev.moaserve.model;

/** Small host-side helpers for comparing and reading logits. */
public final class Numerics {
    private Numerics() {}

    /** max |a[i] − b[offset + i]| over a. */
    public static double maxAbsDiff(float[] a, float[] b, int offset) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - b[offset + i]);
            if (Double.isNaN(d)) {
                return Double.POSITIVE_INFINITY;
            }
            worst = Math.max(worst, d);
        }
        return worst;
    }

    /** Index of the largest value; ties to the lowest index (as torch.argmax). */
    public static int argmax(float[] x, int offset, int length) {
        int best = 0;
        for (int i = 1; i < length; i++) {
            if (x[offset + i] > x[offset + best]) {
                best = i;
            }
        }
        return best;
    }
}

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

    /** log softmax of the first {@code v} logits, in double precision (as eval and prompt scoring compute it). */
    public static double[] logSoftmax(float[] logits, int v) {
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

    /**
     * The k largest entries' indices, largest first, ties to the lower index: a bounded insertion
     * into a k-sized sorted buffer, O(V·k) worst case but O(V) for the usual small k.
     */
    public static int[] topIndices(double[] x, int k) {
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
}

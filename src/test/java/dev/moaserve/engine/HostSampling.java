package dev.moaserve.engine;

/**
 * The step program's sampling rule written out on the host, over one {@link Sampler}'s state: the
 * reference the program's sampler is tested against, and the fake runner's sampler. Penalties and
 * the constraint's mask, then greedy or temperature → top-k → top-p → min-p → one draw from the
 * request's own stream.
 */
public final class HostSampling {
    private HostSampling() {}

    public static Sampler.Choice next(Sampler s, float[] logits) {
        SamplingParams p = s.params();
        int v = logits.length;
        double[] logp = logSoftmax(logits);
        double[] x = new double[v];
        long[] mask = s.mask();
        for (int i = 0; i < v; i++) {
            x[i] = mask == null || Sampler.allows(mask, i) ? s.penalize(i, logits[i]) : Double.NEGATIVE_INFINITY;
        }
        int token = s.greedy() ? argmax(x) : draw(s, x);
        s.take(token);
        int[] top = topIndices(logp, Math.min(p.logprobs(), v));
        double[] topValues = new double[top.length];
        for (int i = 0; i < top.length; i++) {
            topValues[i] = logp[top[i]];
        }
        return new Sampler.Choice(token, logp[token], top, topValues);
    }

    private static int draw(Sampler s, double[] x) {
        SamplingParams p = s.params();
        int v = x.length;
        double max = Double.NEGATIVE_INFINITY;
        for (double d : x) {
            max = Math.max(max, d);
        }
        double[] probs = new double[v];
        double sum = 0;
        for (int i = 0; i < v; i++) {
            probs[i] = Math.exp((x[i] - max) / p.temperature());
            sum += probs[i];
        }
        for (int i = 0; i < v; i++) {
            probs[i] /= sum;
        }
        int keep = v;
        if (p.topK() > 0) {
            keep = Math.min(keep, p.topK());
        }
        keep = Math.min(keep, BatchSampler.candidates(v));
        int[] order = topIndices(probs, keep);
        if (p.topP() < 1.0) {
            double cum = 0;
            for (int i = 0; i < keep; i++) {
                cum += probs[order[i]];
                if (cum >= p.topP()) {
                    keep = i + 1;
                    break;
                }
            }
        }
        if (p.minP() > 0) {
            double floor = p.minP() * probs[order[0]];
            int k = 1;
            while (k < keep && probs[order[k]] >= floor) {
                k++;
            }
            keep = k;
        }
        double total = 0;
        for (int i = 0; i < keep; i++) {
            total += probs[order[i]];
        }
        double r = s.nextUniform() * total;
        for (int i = 0; i < keep; i++) {
            r -= probs[order[i]];
            if (r <= 0) {
                return order[i];
            }
        }
        return order[keep - 1];
    }

    static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float f : logits) {
            max = Math.max(max, f);
        }
        double sum = 0;
        for (float f : logits) {
            sum += Math.exp(f - max);
        }
        double log = Math.log(sum);
        double[] out = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = logits[i] - max - log;
        }
        return out;
    }

    static int argmax(double[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * The k largest entries' indices, largest first, ties to the lower index: a bounded insertion
     * into a k-sized sorted buffer, O(V·k) worst case but O(V) for the usual small k, no boxing.
     */
    static int[] topIndices(double[] x, int k) {
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

package dev.moaserve.engine;

import dev.moaserve.model.Numerics;

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
        double[] logp = Numerics.logSoftmax(logits, logits.length);
        double[] x = new double[v];
        long[] mask = s.mask();
        for (int i = 0; i < v; i++) {
            x[i] = mask == null || Sampler.allows(mask, i) ? s.penalize(i, logits[i]) : Double.NEGATIVE_INFINITY;
        }
        int token = s.greedy() ? Numerics.topIndices(x, 1)[0] : draw(s, x);
        s.take(token);
        int[] top = Numerics.topIndices(logp, Math.min(p.logprobs(), v));
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
        int[] order = Numerics.topIndices(probs, keep);
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
}

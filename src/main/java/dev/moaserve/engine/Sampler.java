package dev.moaserve.engine;

import java.util.Arrays;
import java.util.Random;

/**
 * Picks the next token of one sequence from its logits on the host: penalties, then greedy or
 * temperature → top-k → top-p → min-p → a draw from the request's own seeded generator, so a
 * seeded request gives the same tokens whatever else is in the batch.
 */
public final class Sampler {
    /** A chosen token with its log-probability (under the unmodified model distribution) and top alternatives. */
    public record Choice(int token, double logprob, int[] topTokens, double[] topLogprobs) {}

    private final SamplingParams p;
    private final Random random;
    private final int[] counts;

    public Sampler(SamplingParams params, int vocab, long seed) {
        this.p = params;
        this.random = new Random(seed);
        this.counts = new int[vocab];
    }

    /** Records prompt or generated tokens for the penalties. */
    public void observe(long token) {
        counts[(int) token]++;
    }

    public Choice next(float[] logits) {
        int v = logits.length;
        double[] logp = logSoftmax(logits, 1.0);
        double[] x = new double[v];
        for (int i = 0; i < v; i++) {
            double l = logits[i];
            if (counts[i] > 0) {
                if (p.repetitionPenalty() != 1.0) {
                    l = l > 0 ? l / p.repetitionPenalty() : l * p.repetitionPenalty();
                }
                l -= p.presencePenalty() + p.frequencyPenalty() * counts[i];
            }
            x[i] = l;
        }
        int token;
        if (p.temperature() <= 0) {
            token = argmax(x);
        } else {
            token = draw(x);
        }
        counts[token]++;
        return new Choice(token, logp[token], top(logp, p.logprobs()), topValues(logp, p.logprobs()));
    }

    private int draw(double[] x) {
        int v = x.length;
        double[] probs = new double[v];
        double max = Double.NEGATIVE_INFINITY;
        for (double d : x) {
            max = Math.max(max, d);
        }
        double sum = 0;
        for (int i = 0; i < v; i++) {
            probs[i] = Math.exp((x[i] - max) / p.temperature());
            sum += probs[i];
        }
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) {
            order[i] = i;
            probs[i] /= sum;
        }
        // sort by probability, ties to the lower id, so the kept set is deterministic
        Arrays.sort(order, (a, b) -> probs[a] != probs[b] ? Double.compare(probs[b], probs[a]) : Integer.compare(a, b));
        int keep = v;
        if (p.topK() > 0) {
            keep = Math.min(keep, p.topK());
        }
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
        double r = random.nextDouble() * total;
        for (int i = 0; i < keep; i++) {
            r -= probs[order[i]];
            if (r <= 0) {
                return order[i];
            }
        }
        return order[keep - 1];
    }

    static double[] logSoftmax(float[] logits, double temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (float f : logits) {
            max = Math.max(max, f);
        }
        double sum = 0;
        for (float f : logits) {
            sum += Math.exp((f - max) / temperature);
        }
        double log = Math.log(sum);
        double[] out = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = (logits[i] - max) / temperature - log;
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

    private static int[] top(double[] logp, int k) {
        if (k <= 0) {
            return new int[0];
        }
        Integer[] order = new Integer[logp.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> logp[a] != logp[b] ? Double.compare(logp[b], logp[a]) : Integer.compare(a, b));
        int[] out = new int[Math.min(k, logp.length)];
        for (int i = 0; i < out.length; i++) {
            out[i] = order[i];
        }
        return out;
    }

    private static double[] topValues(double[] logp, int k) {
        int[] ids = top(logp, k);
        double[] out = new double[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = logp[ids[i]];
        }
        return out;
    }
}

package dev.moaserve.engine;

import dev.moaserve.engine.constraint.TokenConstraint;

import java.util.Random;

/**
 * One request's sampling state: its parameters, its own seeded generator (so a seeded request
 * gives the same tokens whatever else is in the batch) and the token counts the penalties need.
 * The serving path samples on the tensor engine ({@link BatchSampler}); {@link #next} is the same
 * rule on the host, kept as the reference the batched sampler is tested against.
 */
public final class Sampler {
    /** A chosen token with its log-probability (under the unmodified model distribution) and top alternatives. */
    public record Choice(int token, double logprob, int[] topTokens, double[] topLogprobs) {}

    private final SamplingParams p;
    private final Random random;
    private final int[] counts;
    private final TokenConstraint.Cursor constraint;
    private boolean ended;

    public Sampler(SamplingParams params, int vocab, long seed) {
        this.p = params;
        this.random = new Random(seed);
        this.counts = new int[vocab];
        this.constraint = params.constraint() == null ? null : params.constraint().start();
    }

    public SamplingParams params() {
        return p;
    }

    /** Records prompt or generated tokens for the penalties. */
    public void observe(long token) {
        counts[(int) token]++;
    }

    /** A sampled token: counted for the penalties and, under a constraint, moved past. */
    void accept(int token) {
        counts[token]++;
        if (constraint != null) {
            constraint.advance(token);
        }
    }

    /**
     * The tokens allowed next as a bit set over the vocabulary when the constraint masks this
     * step, else null. Not masked where the output is already accepted but could go on: there the
     * model samples freely, and a token outside the language ends the output (the model's own
     * "end here", as an end-of-sequence token would be).
     */
    long[] mask() {
        return constraint == null || constraint.mayEnd() ? null : constraint.allowed();
    }

    /** Whether bit {@code token} of a {@link #mask()} is set. */
    static boolean allows(long[] mask, int token) {
        return (mask[token >> 6] & (1L << (token & 63))) != 0;
    }

    /** A sampled token: accepted, or (where the constraint's output may end) the end of the output. */
    void take(int token) {
        if (constraint != null && !constraint.isAllowed(token)) {
            ended = true; // only reachable where mayEnd(): elsewhere the mask rules such tokens out
            return;
        }
        accept(token);
    }

    /** The model ended an accepted, extendable constrained output (the token it chose is not emitted). */
    public boolean constraintEnded() {
        return ended;
    }

    /** The constrained output is complete: accepted, and no token can extend it. */
    public boolean constraintComplete() {
        return constraint != null && constraint.complete();
    }

    int count(int token) {
        return counts[token];
    }

    boolean greedy() {
        return p.temperature() <= 0;
    }

    /** Whether any logit is changed before sampling: penalties or a logit bias. */
    boolean adjusted() {
        return p.repetitionPenalty() != 1.0 || p.presencePenalty() != 0 || p.frequencyPenalty() != 0
                || !p.logitBias().isEmpty();
    }

    /** The logit bias of {@code token} (0 when none). */
    float bias(int token) {
        Float b = p.logitBias().get(token);
        return b == null ? 0f : b;
    }

    /** The next uniform of this request's own stream: exactly one per sampled (non-greedy) token. */
    double nextUniform() {
        return random.nextDouble();
    }

    /** The logit after this request's penalties and logit bias. */
    double penalize(int token, double logit) {
        int n = counts[token];
        double l = logit;
        if (n > 0) {
            if (p.repetitionPenalty() != 1.0) {
                l = l > 0 ? l / p.repetitionPenalty() : l * p.repetitionPenalty();
            }
            l = l - p.presencePenalty() - p.frequencyPenalty() * n;
        }
        return l + bias(token);
    }

    /** Host reference: penalties and the constraint's mask, then greedy or temperature → top-k → top-p → min-p → one draw. */
    public Choice next(float[] logits) {
        int v = logits.length;
        double[] logp = logSoftmax(logits);
        double[] x = new double[v];
        long[] mask = mask();
        for (int i = 0; i < v; i++) {
            x[i] = mask == null || allows(mask, i) ? penalize(i, logits[i]) : Double.NEGATIVE_INFINITY;
        }
        int token = greedy() ? argmax(x) : draw(x);
        take(token);
        int[] top = topIndices(logp, Math.min(p.logprobs(), v));
        double[] topValues = new double[top.length];
        for (int i = 0; i < top.length; i++) {
            topValues[i] = logp[top[i]];
        }
        return new Choice(token, logp[token], top, topValues);
    }

    private int draw(double[] x) {
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
        double r = nextUniform() * total;
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

package dev.moaserve.engine;

import dev.moaserve.engine.constraint.TokenConstraint;

import java.util.Random;

/**
 * One request's sampling state: its parameters, its own seeded generator (so a seeded request
 * gives the same tokens whatever else is in the batch) and the token counts the penalties need.
 * The sampling rule itself runs in the step program; {@link BatchSampler} packs this state for it
 * and reads its choices back.
 */
public final class Sampler {
    /** A chosen token with its log-probability (under the unmodified model distribution) and top alternatives. */
    public record Choice(int token, double logprob, int[] topTokens, double[] topLogprobs) {}

    private final SamplingParams p;
    private final Random random;
    private final int[] counts;
    private final TokenConstraint.Cursor constraint;
    private boolean ended;
    private int sampled; // tokens taken so far (the budget's spent part)

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
        sampled++;
        if (constraint != null) {
            constraint.advance(token);
        }
    }

    /**
     * The tokens allowed next as a bit set over the vocabulary when the constraint masks this
     * step, else null. Not masked where the output is already accepted but could go on: there the
     * model samples freely, and a token outside the language ends the output (the model's own
     * "end here", as an end-of-sequence token would be). Under the budget rule
     * ({@link TokenConstraint}): near the end of {@code max_tokens}, only tokens after which the
     * output can still be finished in what is left.
     */
    long[] mask() {
        if (constraint == null) {
            return null;
        }
        long[] within = constraint.allowedWithin(p.maxTokens() - sampled);
        if (!constraint.mayEnd()) {
            return within != null ? within : constraint.allowed();
        }
        if (within == null) {
            return null;
        }
        // accepted and extendable: any token that ends the output, or one that can still finish in time
        long[] allowed = constraint.allowed();
        long[] mask = new long[allowed.length];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = ~allowed[i] | within[i];
        }
        return mask;
    }

    /** The constrained output so far is accepted (it may still go on). */
    public boolean constraintAccepted() {
        return constraint != null && constraint.accepted();
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
}

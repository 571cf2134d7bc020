package dev.moaserve.engine;

import dev.moaserve.engine.constraint.ConstraintSpec;
import dev.moaserve.model.DecodeMode;

import java.util.Optional;
import java.util.OptionalInt;

/**
 * What the engine is asked to do for one request, whatever API it came from: the engine's front
 * door ({@link RequestPipeline#submit}) takes it. Validated at the API edge; the engine trusts it.
 *
 * @param prompt      prompt token ids
 * @param params      sampling (its constraint unset: {@code constraint} is compiled by the engine)
 * @param n           choices sampled from the one prompt (choice i seeds with seed + i)
 * @param decode      exact or frozen-prefix decoding
 * @param priority    its place in the queue when the batch is full: lower first
 * @param constraint  structured output, compiled before it runs
 * @param scorePrompt the prompt's log-probabilities with this many alternatives per position
 * @param routingFrom each completed choice's routing, from this token position on
 */
public record InferenceRequest(long[] prompt, SamplingParams params, int n, DecodeMode decode, int priority,
                               Optional<ConstraintSpec> constraint, OptionalInt scorePrompt, OptionalInt routingFrom) {
    public static Builder builder(long[] prompt, SamplingParams params) {
        return new Builder(prompt, params);
    }

    /** The same request sampling with {@code p}. */
    public InferenceRequest withParams(SamplingParams p) {
        return new InferenceRequest(prompt, p, n, decode, priority, constraint, scorePrompt, routingFrom);
    }

    public Builder toBuilder() {
        Builder b = new Builder(prompt, params);
        b.n = n;
        b.decode = decode;
        b.priority = priority;
        b.constraint = constraint;
        b.scorePrompt = scorePrompt;
        b.routingFrom = routingFrom;
        return b;
    }

    /** One choice, exact decoding, priority 0, no constraint, no prompt scores, no routing unless set. */
    public static final class Builder {
        private final long[] prompt;
        private final SamplingParams params;
        private int n = 1;
        private DecodeMode decode = DecodeMode.EXACT;
        private int priority;
        private Optional<ConstraintSpec> constraint = Optional.empty();
        private OptionalInt scorePrompt = OptionalInt.empty();
        private OptionalInt routingFrom = OptionalInt.empty();

        private Builder(long[] prompt, SamplingParams params) {
            this.prompt = prompt;
            this.params = params;
        }

        public Builder n(int v) {
            n = v;
            return this;
        }

        public Builder decode(DecodeMode v) {
            decode = v;
            return this;
        }

        public Builder priority(int v) {
            priority = v;
            return this;
        }

        public Builder constraint(ConstraintSpec v) {
            constraint = Optional.ofNullable(v);
            return this;
        }

        public Builder scorePrompt(int alternatives) {
            scorePrompt = OptionalInt.of(alternatives);
            return this;
        }

        public Builder routingFrom(int position) {
            routingFrom = OptionalInt.of(position);
            return this;
        }

        public InferenceRequest build() {
            return new InferenceRequest(prompt, params, n, decode, priority, constraint, scorePrompt, routingFrom);
        }
    }
}

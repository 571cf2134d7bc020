package dev.moaserve.engine;

import dev.moaserve.engine.constraint.TokenConstraint;

import java.util.List;
import java.util.Map;

/**
 * How one request picks its tokens. Validated at the API edge; the engine trusts it.
 *
 * @param temperature       0 = greedy
 * @param topK              0 = off
 * @param topP              1 = off
 * @param minP              0 = off
 * @param repetitionPenalty 1 = off (CTRL-style: divides positive logits of seen tokens, multiplies negative)
 * @param presencePenalty   0 = off (OpenAI: subtracted once per seen token)
 * @param frequencyPenalty  0 = off (OpenAI: subtracted per occurrence)
 * @param seed              null = random
 * @param logprobs          number of top alternatives to report per token (0 = only the chosen one)
 * @param logitBias         token id → value added to its logit before sampling (OpenAI's logit_bias)
 * @param constraint        null = unconstrained; else only tokens that keep the output in its language
 */
public record SamplingParams(
        double temperature,
        int topK,
        double topP,
        double minP,
        double repetitionPenalty,
        double presencePenalty,
        double frequencyPenalty,
        Long seed,
        int maxTokens,
        List<String> stop,
        int logprobs,
        Map<Integer, Float> logitBias,
        TokenConstraint constraint) {

    /** Parameters by name; unset ones are off (temperature 1, no truncation, no penalties, random seed, 16 tokens). */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from these parameters. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.minP = minP;
        b.repetitionPenalty = repetitionPenalty;
        b.presencePenalty = presencePenalty;
        b.frequencyPenalty = frequencyPenalty;
        b.seed = seed;
        b.maxTokens = maxTokens;
        b.stop = stop;
        b.logprobs = logprobs;
        b.logitBias = logitBias;
        b.constraint = constraint;
        return b;
    }

    /** Builds {@link SamplingParams} by name. */
    public static final class Builder {
        private double temperature = 1.0;
        private int topK;
        private double topP = 1.0;
        private double minP;
        private double repetitionPenalty = 1.0;
        private double presencePenalty;
        private double frequencyPenalty;
        private Long seed;
        private int maxTokens = 16;
        private List<String> stop = List.of();
        private int logprobs;
        private Map<Integer, Float> logitBias = Map.of();
        private TokenConstraint constraint;

        private Builder() {}

        public Builder temperature(double v) { temperature = v; return this; }
        public Builder topK(int v) { topK = v; return this; }
        public Builder topP(double v) { topP = v; return this; }
        public Builder minP(double v) { minP = v; return this; }
        public Builder repetitionPenalty(double v) { repetitionPenalty = v; return this; }
        public Builder presencePenalty(double v) { presencePenalty = v; return this; }
        public Builder frequencyPenalty(double v) { frequencyPenalty = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder maxTokens(int v) { maxTokens = v; return this; }
        public Builder stop(List<String> v) { stop = List.copyOf(v); return this; }
        public Builder logprobs(int v) { logprobs = v; return this; }
        public Builder logitBias(Map<Integer, Float> v) { logitBias = Map.copyOf(v); return this; }
        public Builder constraint(TokenConstraint v) { constraint = v; return this; }

        public SamplingParams build() {
            return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty,
                    seed, maxTokens, stop, logprobs, logitBias, constraint);
        }
    }

    public static SamplingParams greedy(int maxTokens) {
        return builder().temperature(0).maxTokens(maxTokens).build();
    }

    public SamplingParams withSeed(long newSeed) {
        return toBuilder().seed(newSeed).build();
    }

    public SamplingParams withLogitBias(Map<Integer, Float> bias) {
        return toBuilder().logitBias(bias).build();
    }

    public SamplingParams withConstraint(TokenConstraint c) {
        return toBuilder().constraint(c).build();
    }
}

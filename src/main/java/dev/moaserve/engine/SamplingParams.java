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

    public SamplingParams(double temperature, int topK, double topP, double minP, double repetitionPenalty,
                          double presencePenalty, double frequencyPenalty, Long seed, int maxTokens, List<String> stop,
                          int logprobs, Map<Integer, Float> logitBias) {
        this(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, seed, maxTokens, stop,
                logprobs, logitBias, null);
    }

    public SamplingParams(double temperature, int topK, double topP, double minP, double repetitionPenalty,
                          double presencePenalty, double frequencyPenalty, Long seed, int maxTokens, List<String> stop,
                          int logprobs) {
        this(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, seed, maxTokens, stop,
                logprobs, Map.of());
    }

    public static SamplingParams greedy(int maxTokens) {
        return new SamplingParams(0, 0, 1, 0, 1, 0, 0, null, maxTokens, List.of(), 0);
    }

    public SamplingParams withSeed(long newSeed) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty,
                newSeed, maxTokens, stop, logprobs, logitBias, constraint);
    }

    public SamplingParams withLogitBias(Map<Integer, Float> bias) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty,
                seed, maxTokens, stop, logprobs, Map.copyOf(bias), constraint);
    }

    public SamplingParams withConstraint(TokenConstraint c) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty,
                seed, maxTokens, stop, logprobs, logitBias, c);
    }
}

package dev.moaserve.api.protocol;

import dev.moaserve.engine.PromptScorer;

import java.util.List;
import java.util.function.Supplier;

/**
 * What a renderer formats: the request, its id and creation time (seconds), its choices, and its
 * prompt's log-probabilities once the engine has scored them ({@code scores}).
 */
public record Reply(ServedModel model, GenerationSpec spec, String id, long created, List<ChoiceOutput> choices,
                    Supplier<PromptScorer.Scores> scores) {
    /** The answer's text: the completion, after the prompt when echo / return_full_text asked for it. */
    public String fullText(String completion) {
        return spec.fullText(completion);
    }

    /** The prompt's log-probabilities (echo with logprobs); null when not asked. */
    public PromptScorer.Scores promptScores() {
        return scores.get();
    }
}

package dev.moaserve.api.protocol;

import java.util.List;

/**
 * What a renderer formats: the request (its first prompt's spec: the options every prompt shares),
 * its id and creation time (seconds), and its choices (each knows its own prompt).
 */
public record Reply(ServedModel model, GenerationSpec spec, String id, long created, List<ChoiceOutput> choices) {
    /** The answer's text: the completion, after the prompt when echo / return_full_text asked for it. */
    public String fullText(String completion) {
        return spec.fullText(completion);
    }
}

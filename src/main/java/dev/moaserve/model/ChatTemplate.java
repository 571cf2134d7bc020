package dev.moaserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Renders chat messages into a prompt. Stored with the model as {@code chat_template.json}:
 * {@code {"message": "{ROLE}:\n{content}\n\n", "generation_prompt": "ASSISTANT:\n", "stop": ["\n\n"]}}
 * where {@code {role}}, {@code {ROLE}} and {@code {content}} are replaced; {@code stop} lists stop
 * strings added to every chat request (the end of the assistant's turn).
 */
public record ChatTemplate(String message, String generationPrompt, List<String> stop) {
    /** Used when a model ships no template. */
    public static final ChatTemplate DEFAULT = new ChatTemplate("{ROLE}:\n{content}\n\n", "ASSISTANT:\n", List.of("\n\n"));

    public static ChatTemplate parse(String json, String source) {
        if (json == null) {
            return DEFAULT;
        }
        try {
            JsonNode n = new ObjectMapper().readTree(json);
            if (n == null || !n.path("message").isTextual() || !n.path("generation_prompt").isTextual()) {
                throw new ModelException(source + ": chat template needs \"message\" and \"generation_prompt\" strings");
            }
            List<String> stop = new ArrayList<>();
            n.path("stop").forEach(s -> stop.add(s.asText()));
            return new ChatTemplate(n.get("message").asText(), n.get("generation_prompt").asText(), List.copyOf(stop));
        } catch (IOException e) {
            throw new ModelException(source + ": chat template is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** One message. */
    public record Message(String role, String content) {}

    public String render(List<Message> messages) {
        StringBuilder sb = new StringBuilder();
        for (Message m : messages) {
            sb.append(message.replace("{ROLE}", m.role().toUpperCase(Locale.ROOT))
                    .replace("{role}", m.role())
                    .replace("{content}", m.content()));
        }
        return sb.append(generationPrompt.replace("{ROLE}", "ASSISTANT").replace("{role}", "assistant")).toString();
    }
}

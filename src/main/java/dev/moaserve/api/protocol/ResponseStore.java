package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.model.ChatTemplate;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stored responses ({@code store: true}, the default on {@code /v1/responses}): each one's
 * conversation (its input messages after its predecessors', and its output as an assistant
 * message) for {@code previous_response_id}, and its answer for {@code GET /v1/responses/{id}}.
 * In memory, least recently used evicted beyond {@link #CAPACITY}; gone when the process ends.
 * The model state for a continued conversation is not kept here: the prefix-state cache holds it
 * when it can (the continuation's prompt starts with the stored conversation's text).
 */
public final class ResponseStore {
    /** Responses kept. */
    public static final int CAPACITY = 1000;

    /** One stored response: the conversation so far (its output last), its own input, and its answer. */
    public record Stored(List<ChatTemplate.Message> conversation, List<ChatTemplate.Message> input, ObjectNode response) {}

    private final Map<String, Stored> byId = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Stored> eldest) {
            return size() > CAPACITY;
        }
    };

    public synchronized Stored get(String id) {
        return byId.get(id);
    }

    synchronized void put(String id, Stored s) {
        byId.put(id, s);
    }

    /** Forgets a response (DELETE /v1/responses/{id}); false if it was not there. */
    public synchronized boolean remove(String id) {
        return byId.remove(id) != null;
    }
}

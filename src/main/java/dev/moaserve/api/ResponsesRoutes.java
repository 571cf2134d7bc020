package dev.moaserve.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.model.ChatTemplate;
import dev.moaserve.api.protocol.Protocol;
import dev.moaserve.api.protocol.ResponseStore;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * OpenAI's Responses API: {@code POST /v1/responses} through the generation routes, and
 * {@code GET /v1/responses/{id}} from the responses it stored (its {@link ResponseStore}, in
 * memory, bounded; the protocol keeps an answered response there when asked to store it).
 */
@ApplicationScoped
public class ResponsesRoutes {
    @Inject
    GenerationRoutes generation;

    private final ResponseStore store = new ResponseStore();
    private final Protocol protocol = Protocol.responses(store);

    void create(RoutingContext rc) {
        generation.handle(rc, protocol, false);
    }

    /** A stored response, as it was answered; 404 when unknown (or evicted). */
    ObjectNode stored(String id) {
        return find(id).response();
    }

    /** {@code GET /v1/responses/{id}/input_items}: the response's own input, as message items (a list object, one page). */
    ObjectNode inputItems(String id) {
        ResponseStore.Stored s = find(id);
        ObjectNode list = Json.object().put("object", "list");
        ArrayNode data = list.putArray("data");
        for (int i = 0; i < s.input().size(); i++) {
            ChatTemplate.Message m = s.input().get(i);
            ObjectNode item = data.addObject().put("type", "message").put("id", "msg_" + id.substring(id.indexOf('_') + 1) + "_" + i)
                    .put("status", "completed").put("role", m.role());
            item.putArray("content").addObject().put("type", m.role().equals("assistant") ? "output_text" : "input_text")
                    .put("text", m.content());
        }
        list.put("first_id", data.isEmpty() ? null : data.get(0).get("id").asText());
        list.put("last_id", data.isEmpty() ? null : data.get(data.size() - 1).get("id").asText());
        list.put("has_more", false);
        return list;
    }

    /** {@code DELETE /v1/responses/{id}}: forgets it; 404 when unknown. */
    ObjectNode delete(String id) {
        if (!store.remove(id)) {
            throw notFound(id);
        }
        return Json.object().put("id", id).put("object", "response").put("deleted", true);
    }

    private ResponseStore.Stored find(String id) {
        ResponseStore.Stored s = store.get(id);
        if (s == null) {
            throw notFound(id);
        }
        return s;
    }

    private static ApiException notFound(String id) {
        return new ApiException(404, "invalid_request_error", "Response with id '" + id + "' not found.", null, "not_found");
    }
}

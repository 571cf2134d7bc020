package dev.moaserve.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.api.protocol.ApiException;
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
        ResponseStore.Stored s = store.get(id);
        if (s == null) {
            throw new ApiException(404, "invalid_request_error", "Response with id '" + id + "' not found.", null, "not_found");
        }
        return s.response();
    }
}

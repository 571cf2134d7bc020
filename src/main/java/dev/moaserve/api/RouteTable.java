package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.api.protocol.Protocol;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;

import java.util.Locale;

/**
 * Every route of the server, in one table. They are Vert.x routes (not JAX-RS) because one URL
 * must answer either JSON or an SSE stream, chosen by the body, with a proper status decided
 * before the stream starts; having them all here puts one error path and one auth filter
 * ({@link AuthFilter}) in front of all. Errors answer in the route's shape ({@link HttpErrors}).
 */
@ApplicationScoped
public class RouteTable {
    @Inject
    GenerationRoutes generation;

    @Inject
    EmbeddingRoutes embeddings;

    @Inject
    ModelInfoRoutes info;

    @Inject
    InteropRoutes interop;

    void routes(@Observes Router router) {
        post(router, "/v1/completions", rc -> generation.handle(rc, Protocol.COMPLETIONS, false));
        post(router, "/v1/chat/completions", rc -> generation.handle(rc, Protocol.CHAT, false));
        post(router, "/v1/responses", rc -> generation.handle(rc, Protocol.RESPONSES, false));
        router.get("/v1/responses/:id").handler(rc -> info.answer(rc, () -> info.storedResponse(rc.pathParam("id"))));
        post(router, "/generate", rc -> generation.handle(rc, Protocol.TGI, false));
        post(router, "/generate_stream", rc -> generation.handle(rc, Protocol.TGI, true));
        post(router, "/v1/embeddings", embeddings::handle);
        post(router, "/embed", embeddings::handleTei);
        router.get("/v1/models").handler(rc -> info.answer(rc, info::models));
        router.get("/v1/models/:id").handler(rc -> info.answer(rc, () -> info.model(rc.pathParam("id"))));
        post(router, "/tokenize", rc -> info.answer(rc, () -> info.tokenize(jsonBody(rc))));
        post(router, "/detokenize", rc -> info.answer(rc, () -> info.detokenize(jsonBody(rc))));
        get(router, "/health", interop::health);
        get(router, "/v1/health", interop::health);
        get(router, "/metrics", rc -> rc.reroute("/q/metrics"));
        router.errorHandler(404, rc -> InteropRoutes.error(rc, 404, "no such route; the API is /v1/models, /v1/completions, "
                + "/v1/chat/completions, /v1/responses, /v1/embeddings, /embed, /generate, /generate_stream, /tokenize, /detokenize"));
        router.errorHandler(405, rc -> InteropRoutes.error(rc, 405, "this method is not allowed on this route"));
    }

    /**
     * A POST route with a JSON body of at most {@link InteropRoutes#MAX_BODY}, whose failures (a
     * chunked body over the limit: 413) still answer error JSON.
     */
    private static void post(Router router, String path, Handler<RoutingContext> handler) {
        router.post(path).handler(BodyHandler.create().setBodyLimit(InteropRoutes.MAX_BODY)).handler(handler)
                .failureHandler(InteropRoutes::failure);
    }

    private static void get(Router router, String path, Handler<RoutingContext> handler) {
        router.route(path).method(HttpMethod.GET).method(HttpMethod.HEAD).handler(handler);
    }

    /** The request body as JSON: 415 for another Content-Type, 400 for an empty or malformed body. */
    static JsonNode jsonBody(RoutingContext rc) {
        String ct = rc.request().getHeader("Content-Type");
        if (ct != null && !ct.toLowerCase(Locale.ROOT).startsWith("application/json")) {
            throw new ApiException(415, "invalid_request_error", "Content-Type must be application/json", null, null);
        }
        try {
            if (rc.body() == null || rc.body().length() == 0) {
                throw ApiException.invalid(null, "the request body is empty; send a JSON object");
            }
            return Json.MAPPER.readTree(rc.body().buffer().getBytes());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw ApiException.invalid(null, "malformed JSON in the request body: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw ApiException.invalid(null, "unreadable request body: " + e.getMessage());
        }
    }
}

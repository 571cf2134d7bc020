package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.EmbeddingProtocol;
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

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

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

    @Inject
    ModelCatalogueRoutes catalogue;

    @Inject
    ResponsesRoutes responses;

    /** Each API path and the methods it answers: a known path with another method is a 405, any other path a 404. */
    private final Map<Pattern, Set<HttpMethod>> known = new LinkedHashMap<>();

    void routes(@Observes Router router) {
        post(router, "/v1/completions", rc -> generation.handle(rc, Protocol.COMPLETIONS, false));
        post(router, "/v1/chat/completions", rc -> generation.handle(rc, Protocol.CHAT, false));
        post(router, "/v1/responses", responses::create);
        post(router, "/v1/messages", rc -> generation.handle(rc, Protocol.MESSAGES, false));
        post(router, "/v1/messages/count_tokens", rc -> info.answerFor(rc, ModelInfoRoutes::countTokens));
        get(router, "/v1/responses/:id", rc -> info.answer(rc, () -> responses.stored(rc.pathParam("id"))));
        get(router, "/v1/responses/:id/input_items", rc -> info.answer(rc, () -> responses.inputItems(rc.pathParam("id"))));
        delete(router, "/v1/responses/:id", rc -> info.answer(rc, () -> responses.delete(rc.pathParam("id"))));
        post(router, "/generate", rc -> generation.handle(rc, Protocol.TGI, false));
        post(router, "/generate_stream", rc -> generation.handle(rc, Protocol.TGI, true));
        post(router, "/v1/embeddings", rc -> embeddings.handle(rc, EmbeddingProtocol.OPENAI));
        post(router, "/embed", rc -> embeddings.handle(rc, EmbeddingProtocol.TEI));
        get(router, "/v1/models", rc -> info.answer(rc, catalogue::models));
        get(router, "/v1/models/:id", rc -> info.answer(rc, () -> catalogue.model(rc.pathParam("id"))));
        post(router, "/v1/models/load", catalogue::load);
        post(router, "/v1/models/unload", catalogue::unload);
        post(router, "/tokenize", rc -> info.answerFor(rc, ModelInfoRoutes::tokenize));
        get(router, "/tokenizer_info", rc -> info.answerForQuery(rc, ModelInfoRoutes::tokenizerInfo));
        post(router, "/detokenize", rc -> info.answerFor(rc, ModelInfoRoutes::detokenize));
        get(router, "/health", interop::health);
        get(router, "/v1/health", interop::health);
        get(router, "/metrics", rc -> rc.reroute("/q/metrics"));
        router.errorHandler(404, this::unrouted);
        router.errorHandler(405, this::unrouted);
    }

    /**
     * No route took the request. Quarkus' own handlers (static files, /q/) answer by path for some
     * methods only, so Vert.x's own status can be either for any path: decided here instead.
     */
    private void unrouted(RoutingContext rc) {
        String path = rc.normalizedPath();
        Set<HttpMethod> allowed = path.startsWith("/q/") ? null : allowedAt(path);
        if (allowed != null && !allowed.contains(rc.request().method())) {
            rc.response().putHeader("Allow", allowed.stream().map(HttpMethod::name).sorted().collect(Collectors.joining(", ")));
            InteropRoutes.error(rc, 405, "this route answers " + rc.response().headers().get("Allow") + ", not "
                    + rc.request().method().name());
        } else if (rc.statusCode() == 405 && path.startsWith("/q/")) {
            InteropRoutes.error(rc, 405, "this method is not allowed on this route");
        } else {
            InteropRoutes.error(rc, 404, "no such route: " + rc.request().method().name() + " " + path + "; the API is "
                    + "/v1/models, /v1/completions, /v1/chat/completions, /v1/responses, /v1/messages, /v1/embeddings, /embed, /generate, "
                    + "/generate_stream, /tokenize, /detokenize");
        }
    }

    /** The methods an API path answers; null for a path the API does not have. */
    private Set<HttpMethod> allowedAt(String path) {
        for (Map.Entry<Pattern, Set<HttpMethod>> e : known.entrySet()) {
            if (e.getKey().matcher(path).matches()) {
                return e.getValue();
            }
        }
        return null;
    }

    private void know(String path, HttpMethod... methods) {
        known.computeIfAbsent(Pattern.compile(path.replaceAll(":[a-z]+", "[^/]+")), k -> new java.util.LinkedHashSet<>())
                .addAll(List.of(methods));
    }

    /**
     * A POST route with a JSON body of at most {@link InteropRoutes#MAX_BODY}, whose failures (a
     * chunked body over the limit: 413) still answer error JSON.
     */
    private void post(Router router, String path, Handler<RoutingContext> handler) {
        know(path, HttpMethod.POST);
        router.post(path).handler(BodyHandler.create().setBodyLimit(InteropRoutes.MAX_BODY)).handler(handler)
                .failureHandler(InteropRoutes::failure);
    }

    private void delete(Router router, String path, Handler<RoutingContext> handler) {
        know(path, HttpMethod.DELETE);
        router.delete(path).handler(handler);
    }

    private void get(Router router, String path, Handler<RoutingContext> handler) {
        know(path, HttpMethod.GET, HttpMethod.HEAD);
        router.route(path).method(HttpMethod.GET).method(HttpMethod.HEAD).handler(handler);
    }

    /** Ends the response with {@code body} as JSON and {@code status}, unless it already ended or its client left. */
    static void answer(RoutingContext rc, int status, JsonNode body) {
        if (!rc.response().ended() && !rc.response().closed()) {
            rc.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(Json.write(body));
        }
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

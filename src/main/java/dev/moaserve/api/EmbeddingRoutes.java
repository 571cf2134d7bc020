package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.EmbeddingProtocol;
import dev.moaserve.engine.Embedder;
import dev.moaserve.engine.QueueFullException;
import dev.moaserve.engine.ShuttingDownException;
import io.vertx.core.Context;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.UUID;
import java.util.concurrent.CancellationException;

/**
 * The embeddings endpoints, OpenAI's {@code POST /v1/embeddings} and TEI's {@code POST /embed}:
 * a request is parsed by its {@link EmbeddingProtocol}, submitted to the {@link Embedder}
 * (bounded queue: 429 when full; a client that leaves before its turn is skipped), and its vectors
 * written in the protocol's shape; one log line per request.
 */
@ApplicationScoped
public class EmbeddingRoutes {
    @Inject
    ModelDoor door;

    @Inject
    EngineMetrics metrics;

    @Inject
    ServingConfig config;

    void handle(RoutingContext rc, EmbeddingProtocol protocol) {
        long start = System.nanoTime();
        door.serveJson(rc, protocol.errors(), (body, lease) -> embed(rc, protocol, body, lease, start));
    }

    private void embed(RoutingContext rc, EmbeddingProtocol protocol, JsonNode body, ModelSlot.Lease lease, long start) {
        Embedder embedder = lease.model().embedder();
        EmbeddingProtocol.EmbeddingSpec spec = protocol.parse(body, lease.view(),
                new EmbeddingProtocol.Limits(embedder.dimensions(), config.embeddings().maxRequestTokens()));
        String id = "embd-" + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
        RequestIds.use(rc, id);
        String model = lease.view().name();
        Embedder.Request request;
        try {
            request = embedder.submit(id, spec.inputs(), spec.priority());
        } catch (QueueFullException e) {
            throw new ApiException(429, "rate_limit_exceeded", e.getMessage(), null, "rate_limit_exceeded");
        } catch (ShuttingDownException e) {
            throw new ApiException(503, "server_error", e.getMessage(), null, "unavailable");
        }
        lease.onDisconnect(request::cancel);
        Context ctx = rc.vertx().getOrCreateContext();
        request.result().whenComplete((vectors, failure) -> ctx.runOnContext(v -> {
            if (failure instanceof CancellationException || rc.response().closed()) {
                log(id, model, spec, start, "cancelled");
                return;
            }
            if (failure != null) {
                log(id, model, spec, start, "error");
                HttpErrors.send(rc.response(), new ApiException(503, "server_error",
                        failure.getMessage() == null ? failure.toString() : failure.getMessage(), null, "unavailable"),
                        protocol.errors());
                return;
            }
            RouteTable.answer(rc, 200, protocol.body(spec, vectors, model));
            metrics.outcome("embedding");
            log(id, model, spec, start, "ok");
        }));
    }

    private static void log(String id, String model, EmbeddingProtocol.EmbeddingSpec spec, long start, String outcome) {
        RequestLog.LOG.infof("request %s embeddings model=%s inputs=%d prompt_tokens=%d total_ms=%.1f outcome=%s", id, model,
                spec.inputs().size(), spec.tokens(), (System.nanoTime() - start) / 1e6, outcome);
    }
}

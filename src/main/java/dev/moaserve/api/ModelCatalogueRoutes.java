package dev.moaserve.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.ErrorShape;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.api.protocol.JsonFields;
import dev.moaserve.engine.LoadedModel;
import dev.moaserve.engine.RequestFailure;
import io.vertx.core.Context;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The catalogue as clients and operators see it: {@code GET /v1/models} (every model the server
 * can serve, with its status, kind, context length and the bytes it holds), {@code GET
 * /v1/models/{id}} (one, to poll), and the operators' {@code POST /v1/models/load} and {@code POST
 * /v1/models/unload} ({@code {"model", "wait"}}: answered when done, or at once with 202 when
 * {@code wait} is false; behind the API keys when keys are set, as every POST).
 */
@ApplicationScoped
public class ModelCatalogueRoutes {
    @Inject
    ModelService service;

    ObjectNode models() {
        ObjectNode o = Json.object();
        o.put("object", "list");
        var data = o.putArray("data");
        service.models().forEach(s -> data.add(describe(s)));
        return o;
    }

    ObjectNode model(String id) {
        return describe(slot(id));
    }

    private ModelSlot slot(String id) {
        ModelSlot s = service.model(id);
        if (s == null) {
            throw new ApiException(404, "invalid_request_error", "The model '" + id + "' does not exist", "model", "model_not_found");
        }
        return s;
    }

    /** OpenAI's model object, plus where the model stands in this server. */
    private ObjectNode describe(ModelSlot s) {
        ObjectNode m = Json.object();
        m.put("id", s.name);
        m.put("object", "model");
        m.put("created", service.created());
        m.put("owned_by", "moa-serve");
        m.put("kind", s.kind());
        m.put("max_model_len", s.contextLength);
        m.put("status", s.status.json());
        if (s.status == ModelSlot.Status.FAILED) {
            m.put("status_reason", s.failure);
        }
        m.put("resident_bytes", s.residentBytes());
        m.put("pinned", s.pinned);
        LoadedModel loaded = s.model;
        if (loaded != null) {
            m.put("device", loaded.deviceName());
        }
        return m;
    }

    /** {@code POST /v1/models/load}. */
    void load(RoutingContext rc) {
        change(rc, true);
    }

    /** {@code POST /v1/models/unload}: once the requests that hold it end (at most moa.request-timeout). */
    void unload(RoutingContext rc) {
        change(rc, false);
    }

    private void change(RoutingContext rc, boolean load) {
        try {
            if (service.models().isEmpty()) {
                throw new ApiException(503, "server_error", service.notReadyReason(), null, "unavailable");
            }
            JsonFields f = new JsonFields(RouteTable.jsonBody(rc), "", Set.of("model", "wait"), Map.of());
            String name = f.string("model", null);
            if (name == null) {
                throw ApiException.invalid("model", "send {\"model\": \"<name>\"}");
            }
            ModelSlot slot = slot(name);
            boolean wait = f.bool("wait", true);
            CompletableFuture<Void> done = load ? service.load(slot) : service.unload(slot);
            if (!wait) {
                RouteTable.answer(rc, 202, describe(slot));
                return;
            }
            Context ctx = rc.vertx().getOrCreateContext();
            done.whenComplete((v, e) -> ctx.runOnContext(x -> {
                if (e == null) {
                    RouteTable.answer(rc, 200, describe(slot));
                    return;
                }
                Throwable cause = RequestFailure.unwrap(e);
                rc.response().putHeader("Retry-After", "1");
                HttpErrors.send(rc.response(), new ApiException(503, "server_error", cause.getMessage() == null ? cause.toString()
                        : cause.getMessage(), "model", "model_load_failed"), ErrorShape.OPENAI);
            }));
        } catch (ApiException e) {
            HttpErrors.send(rc.response(), e, ErrorShape.OPENAI);
        }
    }
}

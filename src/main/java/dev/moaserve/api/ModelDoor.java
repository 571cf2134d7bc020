package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.ErrorShape;
import dev.moaserve.engine.RequestFailure;
import io.vertx.core.Context;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The door every request to a model passes: it finds the model the request names, waits for its
 * load if it must, holds it ({@link ModelSlot.Lease}) until the response ends, and answers the
 * errors of that (503 while starting or draining, 404 for a name the catalogue lacks, 429 when too
 * many wait for loads) in the route's shape.
 */
@ApplicationScoped
public class ModelDoor {
    @Inject
    ModelService service;

    @Inject
    ServingConfig config;

    @Inject
    EngineMetrics metrics;

    private final AtomicInteger waitingForLoad = new AtomicInteger();

    /** The {@code model} a JSON body names (null: none, or not a string; the start model serves it). */
    static String requestedModel(JsonNode body) {
        JsonNode m = body == null ? null : body.get("model");
        return m != null && m.isTextual() ? m.asText() : null;
    }

    /** {@link #serve} for a JSON request: its body (400/415 when it is not JSON) and the model it names. */
    void serveJson(RoutingContext rc, ErrorShape errors, BiConsumer<JsonNode, ModelSlot.Lease> then) {
        JsonNode body;
        try {
            refuseUntilReady(rc); // before reading the body: a starting server's 503s cost it as little as possible
            body = RouteTable.jsonBody(rc);
        } catch (ApiException e) {
            fail(rc, e, errors);
            return;
        }
        serve(rc, requestedModel(body), errors, lease -> then.accept(body, lease));
    }

    /**
     * The door of every request to a model: runs {@code then} with a hold on the model that
     * {@code model} names (null: the start model) on the request's context, once it is loaded —
     * at once when it is, after its load when it is not (bounded by moa.request-timeout; a 503
     * with Retry-After when moa.models.wait-for-load is false). 503 while the server starts or
     * drains, 404 {@code model_not_found} for a name the catalogue lacks. The hold ends with the
     * response. An {@link ApiException} from {@code then} answers in {@code errors}' shape.
     */
    void serve(RoutingContext rc, String model, ErrorShape errors, Consumer<ModelSlot.Lease> then) {
        try {
            refuseUntilReady(rc);
            ModelResidency residency = service.residency();
            ModelSlot slot = model == null ? service.startSlot() : residency.slot(model);
            if (slot == null) {
                throw new ApiException(404, "invalid_request_error", "The model '" + model + "' does not exist; this server serves "
                        + residency.slots().stream().map(s -> "'" + s.name + "'").toList(), "model", "model_not_found");
            }
            ModelSlot.Lease lease = residency.tryLease(slot);
            if (lease != null) {
                run(rc, lease, errors, then);
                return;
            }
            if (slot.status == ModelSlot.Status.FAILED) {
                throw new ApiException(503, "server_error", "the model '" + slot.name + "' failed to load: " + slot.failure
                        + " (POST /v1/models/load retries)", "model", "model_load_failed");
            }
            CompletableFuture<Void> loading = residency.load(slot, service.roomWait());
            if (!config.modelsWaitForLoad()) {
                throw unavailable("the model '" + slot.name + "' is loading; retry shortly");
            }
            if (waitingForLoad.incrementAndGet() > config.maxQueue()) {
                waitingForLoad.decrementAndGet();
                throw new ApiException(429, "rate_limit_exceeded", "too many requests are waiting for models to load ("
                        + config.maxQueue() + "); retry later", null, "rate_limit_exceeded");
            }
            Context ctx = rc.vertx().getOrCreateContext();
            loading.orTimeout(service.roomWait().toMillis(), TimeUnit.MILLISECONDS).whenComplete((v, e) -> {
                waitingForLoad.decrementAndGet();
                ctx.runOnContext(x -> afterLoad(rc, slot, e, errors, then));
            });
        } catch (ApiException e) {
            fail(rc, e, errors);
        }
    }

    /** 503 while the server starts or drains (its own warm-up requests pass once the models are loaded). */
    private void refuseUntilReady(RoutingContext rc) {
        if (!service.ready() && !(service.started() && service.isWarmUp(rc.request().getHeader(HttpWarmUp.HEADER)))) {
            throw unavailable(service.notReadyReason());
        }
    }

    private void afterLoad(RoutingContext rc, ModelSlot slot, Throwable failed, ErrorShape errors, Consumer<ModelSlot.Lease> then) {
        if (rc.response().ended() || rc.response().closed()) {
            return;
        }
        Throwable cause = RequestFailure.unwrap(failed);
        ModelSlot.Lease lease = cause == null ? service.residency().tryLease(slot) : null;
        if (lease == null) {
            String why = cause instanceof java.util.concurrent.TimeoutException ? "the model '" + slot.name + "' did not load within "
                    + service.roomWait().toSeconds() + " s" : cause != null ? cause.getMessage() : "the model '" + slot.name + "' was unloaded again";
            fail(rc, unavailable(why), errors);
            return;
        }
        run(rc, lease, errors, then);
    }

    /** Runs {@code then} holding the lease; the response's end or its connection's close releases it. */
    private void run(RoutingContext rc, ModelSlot.Lease lease, ErrorShape errors, Consumer<ModelSlot.Lease> then) {
        rc.response().endHandler(v -> lease.release()).closeHandler(v -> lease.disconnected());
        try {
            then.accept(lease);
        } catch (ApiException e) {
            fail(rc, e, errors);
        }
    }

    private void fail(RoutingContext rc, ApiException e, ErrorShape errors) {
        metrics.outcome(e.status() == 429 ? "rejected" : "invalid");
        sendError(rc, e, errors);
    }

    private static void sendError(RoutingContext rc, ApiException e, ErrorShape errors) {
        if (e.status() == 503 || e.status() == 429) {
            rc.response().putHeader("Retry-After", "1"); // loading, draining or full: try again (elsewhere)
        }
        HttpErrors.send(rc.response(), e, errors);
    }

    private static ApiException unavailable(String why) {
        return new ApiException(503, "server_error", why, null, "unavailable");
    }
}

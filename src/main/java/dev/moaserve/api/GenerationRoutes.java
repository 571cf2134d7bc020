package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.engine.QueueFullException;
import dev.moaserve.engine.ShuttingDownException;
import dev.moaserve.engine.GenerationRequest;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.engine.constraint.ConstraintException;
import dev.moaserve.engine.constraint.Constraints;
import dev.moaserve.engine.constraint.TokenConstraint;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.operators.multi.processors.UnicastProcessor;
import io.vertx.core.Context;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The generation endpoints: OpenAI {@code /v1/completions}, {@code /v1/chat/completions} and TGI
 * {@code /generate}, {@code /generate_stream}, each streaming (SSE) or not depending on the
 * request body. They are Vert.x routes rather than JAX-RS methods because one URL must answer
 * either JSON or an SSE stream, chosen by the body's {@code stream} field, with a proper status
 * (400/404/429/503) decided before the stream starts. Tokens flow from the scheduler thread as a
 * Mutiny {@link Multi}; a client that disconnects cancels it, which frees its decode slot at the
 * scheduler's next iteration. Each API's response format is rendered by {@link ResponseWriter}.
 */
@ApplicationScoped
public class GenerationRoutes {
    private static final Logger LOG = Logger.getLogger(GenerationRoutes.class);

    @Inject
    ModelService service;

    @Inject
    EngineMetrics metrics;

    @Inject
    io.opentelemetry.api.trace.Tracer tracer;

    /** What the scheduler reports for one request, as stream items. */
    sealed interface Event permits TokenEvent, DoneEvent {}

    record TokenEvent(int index, int token, String text, Sampler.Choice choice) implements Event {}

    record DoneEvent(int index, TokenListener.Finish finish) implements Event {}

    enum Api { COMPLETIONS, CHAT, TGI }

    void routes(@Observes Router router) {
        post(router, "/v1/completions", rc -> handle(rc, Api.COMPLETIONS, false));
        post(router, "/v1/chat/completions", rc -> handle(rc, Api.CHAT, false));
        post(router, "/generate", rc -> handle(rc, Api.TGI, false));
        post(router, "/generate_stream", rc -> handle(rc, Api.TGI, true));
    }

    /**
     * A POST route with a JSON body of at most {@link InteropRoutes#MAX_BODY}, whose failures (a
     * chunked body over the limit: 413) still answer error JSON.
     */
    static void post(Router router, String path, io.vertx.core.Handler<RoutingContext> handler) {
        router.post(path).handler(BodyHandler.create().setBodyLimit(InteropRoutes.MAX_BODY)).handler(handler)
                .failureHandler(InteropRoutes::failure);
    }

    private void handle(RoutingContext rc, Api api, boolean tgiStream) {
        try {
            if (!service.ready()) {
                rc.response().putHeader("Retry-After", "1"); // loading, or draining: try again (elsewhere)
                throw new ApiException(503, "server_error", service.notReadyReason(), null, "unavailable");
            }
            JsonNode body = parse(rc);
            RequestParser.Spec spec = switch (api) {
                case COMPLETIONS -> RequestParser.completion(body, service);
                case CHAT -> RequestParser.chat(body, service);
                case TGI -> RequestParser.tgi(body, service, tgiStream);
            };
            if (spec.constraint() == null) {
                start(rc, api, spec);
            } else {
                constrainThenStart(rc, api, spec);
            }
        } catch (ApiException e) {
            fail(rc, api, e);
        }
    }

    private void fail(RoutingContext rc, Api api, ApiException e) {
        if (e.status() == 429) {
            rc.response().putHeader("Retry-After", "1");
        }
        metrics.outcome(e.status() == 429 ? "rejected" : "invalid");
        sendError(rc.response(), e, api == Api.TGI);
    }

    /**
     * Structured output: the constraint compiled (or found in the cache), then the request starts.
     * A compilation can take a while (bounded by moa.structured-output.compile-timeout), so it runs
     * on a worker thread, never on the event loop.
     */
    private void constrainThenStart(RoutingContext rc, Api api, RequestParser.Spec spec) {
        Constraints constraints = service.constraints();
        ConstraintRequests.Requested want = spec.constraint();
        TokenConstraint cached = constraints.cached(want.spec());
        if (cached != null) {
            start(rc, api, spec.constrained(cached));
            return;
        }
        rc.vertx().<TokenConstraint>executeBlocking(() -> constraints.compile(want.spec()), false).onComplete(ar -> {
            try {
                if (ar.failed()) {
                    throw ar.cause() instanceof ConstraintException ce ? ApiException.invalid(want.param(), ce.getMessage())
                            : new ApiException(500, "server_error", "the constraint could not be compiled", want.param(), null);
                }
                if (rc.response().closed()) {
                    return; // the client left while its constraint compiled: nothing to start
                }
                start(rc, api, spec.constrained(ar.result()));
            } catch (ApiException e) {
                fail(rc, api, e);
            }
        });
    }

    /** The request body as JSON: 415 for another Content-Type, 400 for an empty or malformed body. */
    static JsonNode parse(RoutingContext rc) {
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

    private void start(RoutingContext rc, Api api, RequestParser.Spec spec) {
        String id = (api == Api.CHAT ? "chatcmpl-" : api == Api.COMPLETIONS ? "cmpl-" : "gen-")
                + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
        UnicastProcessor<Event> events = UnicastProcessor.create();
        int n = spec.n();
        AtomicInteger open = new AtomicInteger(n);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int index = i;
            TokenListener listener = new TokenListener() {
                @Override
                public void onToken(int token, String text, Sampler.Choice choice) {
                    events.onNext(new TokenEvent(index, token, text, choice));
                }

                @Override
                public void onFinish(Finish finish) {
                    events.onNext(new DoneEvent(index, finish));
                    if (open.decrementAndGet() == 0) {
                        events.onComplete();
                    }
                }
            };
            // choice i samples with seed + i (a random seed each when none is given)
            SamplingParams params = spec.params().seed() == null || i == 0 ? spec.params() : spec.params().withSeed(spec.params().seed() + i);
            requests.add(new GenerationRequest(n == 1 ? id : id + "-" + i, spec.prompt(), params, listener)
                    .withDecodeMode(spec.decode()));
        }
        GenerationRequest lead = requests.get(0).withForks(requests.subList(1, n));
        try {
            service.scheduler().submit(lead);
        } catch (QueueFullException e) {
            throw new ApiException(429, "rate_limit_exceeded", e.getMessage(), null, "rate_limit_exceeded");
        } catch (ShuttingDownException e) {
            throw new ApiException(503, "server_error", e.getMessage(), null, "unavailable");
        }
        Context ctx = rc.vertx().getOrCreateContext();
        Multi<Event> stream = events.emitOn(task -> ctx.runOnContext(v -> task.run()));
        ResponseWriter writer = new ResponseWriter(service, rc.response(), api, spec, id, requests,
                RequestSpan.start(tracer, api.name().toLowerCase(Locale.ROOT), api == Api.CHAT, service.name(), id));
        if (spec.stream()) {
            writer.startStream(); // accepted: the client sees 200 and the stream at once, even while queued
        }
        var subscription = stream
                .onCancellation().invoke(writer::cancelAll)
                .subscribe().with(writer::onEvent, failure -> LOG.warn("stream of " + id + " failed", failure));
        rc.response().closeHandler(v -> {
            if (!writer.finished) {
                subscription.cancel();
                writer.cancelAll();
                writer.disconnected();
            }
        });
    }

    /** TGI's routes, in any spelling the router takes for them ({@code /generate/}): the error shape only. */
    static boolean isTgiRoute(String path) {
        return path != null && path.startsWith("/generate");
    }

    /** Ends the response with the error in the route's shape: OpenAI's, or TGI's (status and body). */
    static void sendError(HttpServerResponse response, ApiException e, boolean tgi) {
        if (response.ended() || response.closed()) {
            return;
        }
        response.setStatusCode(tgi ? Json.tgiStatus(e) : e.status()).putHeader("Content-Type", "application/json")
                .end(Json.write(Json.error(e, tgi)));
    }
}

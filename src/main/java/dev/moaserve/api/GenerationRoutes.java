package dev.moaserve.api;

import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.api.protocol.ConstraintRequests;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.api.protocol.GenerationSpec;
import dev.moaserve.api.protocol.Json;
import dev.moaserve.api.protocol.RoutingJson;
import dev.moaserve.api.protocol.Protocol;
import dev.moaserve.api.protocol.TokenEvent;
import dev.moaserve.engine.FinishReason;
import dev.moaserve.engine.GenerationRequest;
import dev.moaserve.engine.PromptScorer;
import dev.moaserve.engine.QueueFullException;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.engine.ShuttingDownException;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.engine.constraint.ConstraintException;
import dev.moaserve.engine.constraint.Constraints;
import dev.moaserve.engine.constraint.TokenConstraint;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.operators.multi.processors.UnicastProcessor;
import io.vertx.core.Context;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * The generation endpoints: OpenAI {@code /v1/completions}, {@code /v1/chat/completions} and TGI
 * {@code /generate}, {@code /generate_stream} ({@link RouteTable}), each streaming (SSE) or not
 * depending on the request. A request is validated by its {@link Protocol}, submitted to the
 * scheduler, and its tokens flow back from the engine loop's thread as a Mutiny {@link Multi} to a
 * {@link ResponseWriter}; a client that disconnects cancels it, which frees its decode slot at
 * the scheduler's next iteration.
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

    /** Where the request's arrival time is kept on its context: off-loop work for it ends by it. */
    private static final String ARRIVAL = "moa.arrival";

    void handle(RoutingContext rc, Protocol protocol, boolean stream) {
        rc.put(ARRIVAL, System.nanoTime());
        try {
            if (!service.admits(rc.request().getHeader(HttpWarmUp.HEADER))) {
                rc.response().putHeader("Retry-After", "1"); // loading, or draining: try again (elsewhere)
                throw new ApiException(503, "server_error", service.notReadyReason(), null, "unavailable");
            }
            if (!service.generates()) {
                throw new ApiException(400, "invalid_request_error", "the model '" + service.name() + "' is an encoder"
                        + " (moa_encoder): it computes embeddings (POST /v1/embeddings) and does not generate text",
                        "model", "model_not_generative");
            }
            GenerationSpec spec = protocol.parse(RouteTable.jsonBody(rc), service, stream);
            if (spec.scorePrompt()) {
                scoreThenGo(rc, protocol, spec);
            } else {
                go(rc, protocol, spec);
            }
        } catch (ApiException e) {
            fail(rc, protocol, e);
        }
    }

    /** The request as parsed (and scored): its constraint compiled if it has one, then started. */
    private void go(RoutingContext rc, Protocol protocol, GenerationSpec spec) {
        if (spec.constraint() == null) {
            start(rc, protocol, spec);
        } else {
            constrainThenStart(rc, protocol, spec);
        }
    }

    /**
     * echo with logprobs: the prompt's log-probabilities first (decoded token by token off the
     * event loop, bounded by seq_len steps), then generation — or, with max_tokens 0, the answer.
     */
    private void scoreThenGo(RoutingContext rc, Protocol protocol, GenerationSpec spec) {
        CompletableFuture<PromptScorer.Scores> scores;
        BooleanSupplier abandoned = abandoned(rc);
        try {
            scores = service.scorer().score(spec.prompt(), spec.params().logprobs(), abandoned);
        } catch (RejectedExecutionException e) {
            throw new ApiException(429, "rate_limit_exceeded", "too many prompts are being scored; retry later", null,
                    "rate_limit_exceeded");
        }
        Context ctx = rc.vertx().getOrCreateContext();
        scores.whenComplete((s, failure) -> ctx.runOnContext(v -> {
            try {
                if (rc.response().closed()) {
                    return;
                }
                if (failure != null) {
                    throw abandoned.getAsBoolean()
                            ? new ApiException(504, "server_error", "request timed out while its prompt was scored", null, "timeout")
                            : new ApiException(500, "server_error", "the prompt could not be scored: " + rootMessage(failure), null, null);
                }
                GenerationSpec scored = spec.scored(s);
                if (scored.params().maxTokens() == 0) {
                    answerScoredPrompt(rc, protocol, scored);
                } else {
                    go(rc, protocol, scored);
                }
            } catch (ApiException e) {
                fail(rc, protocol, e);
            }
        }));
    }

    /** max_tokens 0 with echo: the prompt and its log-probabilities, nothing generated (vLLM accepts this too). */
    private void answerScoredPrompt(RoutingContext rc, Protocol protocol, GenerationSpec spec) {
        String id = protocol.idPrefix() + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < spec.n(); i++) {
            requests.add(new GenerationRequest(id, spec.prompt(), spec.params(), null));
        }
        ResponseWriter writer = new ResponseWriter(service, rc.response(), protocol, spec, id, requests,
                RequestSpan.start(tracer, protocol.name(), protocol == Protocol.CHAT, service.name(), id));
        for (int i = 0; i < spec.n(); i++) {
            writer.onEvent(new ResponseWriter.Done(i, new TokenListener.Finish(FinishReason.LENGTH, spec.prompt().length, 0, "",
                    null), null));
        }
    }

    private void fail(RoutingContext rc, Protocol protocol, ApiException e) {
        if (e.status() == 429) {
            rc.response().putHeader("Retry-After", "1");
        }
        metrics.outcome(e.status() == 429 ? "rejected" : "invalid");
        HttpErrors.send(rc.response(), e, protocol.errors());
    }

    /**
     * Structured output: the constraint compiled (or found in the cache), then the request starts.
     * A compilation can take a while (bounded by moa.structured-output-compile-timeout), so it runs
     * on a worker thread, never on the event loop.
     */
    private void constrainThenStart(RoutingContext rc, Protocol protocol, GenerationSpec spec) {
        Constraints constraints = service.constraints();
        ConstraintRequests.Requested want = spec.constraint();
        TokenConstraint cached = constraints.cached(want.spec());
        if (cached != null) {
            start(rc, protocol, spec.constrained(cached));
            return;
        }
        CompletableFuture<TokenConstraint> compiled;
        AtomicBoolean gone = new AtomicBoolean();
        rc.response().closeHandler(v -> gone.set(true)); // start() sets its own once the request runs
        try {
            // the compilation pool is bounded; a client that leaves stops its compilation at the next check
            compiled = constraints.submit(want.spec(), gone::get);
        } catch (RejectedExecutionException e) {
            throw new ApiException(429, "rate_limit_exceeded", "too many structured-output constraints are compiling ("
                    + constraints.waitingCount() + " waiting); retry later", want.param(), "rate_limit_exceeded");
        }
        Context ctx = rc.vertx().getOrCreateContext();
        compiled.whenComplete((constraint, failure) -> ctx.runOnContext(v -> {
            try {
                if (rc.response().closed()) {
                    return; // the client left while its constraint compiled: nothing to start
                }
                if (failure != null) {
                    Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                            ? failure.getCause() : failure;
                    throw cause instanceof ConstraintException ce ? ApiException.invalid(want.param(), ce.getMessage())
                            : new ApiException(500, "server_error", "the constraint could not be compiled", want.param(), null);
                }
                start(rc, protocol, spec.constrained(constraint));
            } catch (ApiException e) {
                fail(rc, protocol, e);
            }
        }));
    }

    /**
     * The request's client has left, or {@code moa.request-timeout} has passed since it arrived:
     * off-loop work for it (prompt scoring, routing) is skipped, or stops, when this says so.
     */
    private BooleanSupplier abandoned(RoutingContext rc) {
        long timeout = service.requestTimeoutNanos();
        Long arrival = rc.get(ARRIVAL);
        long deadline = timeout > 0 ? (arrival == null ? System.nanoTime() : arrival) + timeout : 0;
        HttpServerResponse response = rc.response();
        return () -> response.closed() || deadline != 0 && System.nanoTime() - deadline > 0;
    }

    /** The routing object of prompt + generated tokens, from {@code spec.routingStart()} on. */
    private CompletableFuture<ObjectNode> routing(GenerationSpec spec, List<Long> generated, BooleanSupplier abandoned) {
        long[] ids = new long[spec.prompt().length + generated.size()];
        System.arraycopy(spec.prompt(), 0, ids, 0, spec.prompt().length);
        for (int i = 0; i < generated.size(); i++) {
            ids[spec.prompt().length + i] = generated.get(i);
        }
        try {
            return service.routing().trace(ids, abandoned).thenApply(t -> RoutingJson.of(t, spec.routingStart()));
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new IllegalStateException("too many routing requests are waiting"));
        }
    }

    private static String rootMessage(Throwable t) {
        while (t != null && t.getCause() != null && (t instanceof CompletionException || t.getMessage() == null)) {
            t = t.getCause();
        }
        return t == null ? "unknown" : String.valueOf(t.getMessage());
    }

    private void start(RoutingContext rc, Protocol protocol, GenerationSpec spec) {
        String id = protocol.idPrefix() + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
        UnicastProcessor<ResponseWriter.Event> events = UnicastProcessor.create();
        int n = spec.n();
        AtomicInteger open = new AtomicInteger(n);
        BooleanSupplier abandoned = abandoned(rc);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int index = i;
            List<Long> generated = spec.returnsRouting() ? new ArrayList<>() : null;
            TokenListener listener = new TokenListener() {
                @Override
                public void onToken(int token, String text, Sampler.Choice choice) {
                    if (generated != null && token >= 0) {
                        generated.add((long) token);
                    }
                    emit(new ResponseWriter.Token(new TokenEvent(index, token, text, choice)));
                }

                @Override
                public void onFinish(Finish finish) {
                    if (generated == null || !finish.reason().completed()) {
                        done(finish, null);
                        return;
                    }
                    // the routing of the whole text, computed off the engine's loop; the choice ends with it
                    routing(spec, generated, abandoned).whenComplete((routing, failure) -> done(finish, routing != null ? routing
                            : Json.object().put("error", "the routing could not be computed: " + rootMessage(failure))));
                }

                private void done(Finish finish, ObjectNode routing) {
                    emit(new ResponseWriter.Done(index, finish, routing));
                    if (open.decrementAndGet() == 0) {
                        synchronized (events) {
                            events.onComplete();
                        }
                    }
                }

                /** Choices' events come from the engine's thread and the routing worker: one at a time. */
                private void emit(ResponseWriter.Event e) {
                    synchronized (events) {
                        events.onNext(e);
                    }
                }
            };
            // choice i samples with seed + i (a random seed each when none is given)
            SamplingParams params = spec.params().seed() == null || i == 0 ? spec.params() : spec.params().withSeed(spec.params().seed() + i);
            requests.add(new GenerationRequest(n == 1 ? id : id + "-" + i, spec.prompt(), params, listener)
                    .withDecodeMode(spec.decode()).withPriority(spec.priority()));
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
        Multi<ResponseWriter.Event> stream = events.emitOn(task -> ctx.runOnContext(v -> task.run()));
        ResponseWriter writer = new ResponseWriter(service, rc.response(), protocol, spec, id, requests,
                RequestSpan.start(tracer, protocol.name(), protocol == Protocol.CHAT, service.name(), id));
        if (spec.stream()) {
            writer.startStream(); // accepted: the client sees 200 and the stream at once, even while queued
        }
        var subscription = stream
                .onCancellation().invoke(writer::cancelAll)
                .subscribe().with(writer::onEvent, failure -> LOG.warn("stream of " + id + " failed", failure));
        rc.response().closeHandler(v -> {
            if (!writer.finished()) {
                subscription.cancel();
                writer.cancelAll();
                writer.disconnected();
            }
        });
    }
}

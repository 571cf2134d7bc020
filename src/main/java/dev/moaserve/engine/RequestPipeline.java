package dev.moaserve.engine;

import dev.moaserve.engine.constraint.ConstraintException;
import dev.moaserve.engine.constraint.ConstraintSpec;
import dev.moaserve.engine.constraint.Constraints;
import dev.moaserve.engine.constraint.TokenConstraint;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;

/**
 * The engine's front door: {@link #submit} takes one {@link InferenceRequest} and returns its
 * {@link RequestHandle}; the request then passes its stages as states the engine owns —
 * compiling its constraint, scoring its prompt, waiting, running, tracing its routing, finished
 * ({@link RequestState}). One rule for each way of leaving, in every stage:
 * <ul>
 *   <li>a client that leaves ({@link RequestHandle#cancel}): the stage stops at its next check and
 *       frees what it holds;</li>
 *   <li>{@code moa.request-timeout}, from arrival, across every stage: a {@link RequestFailure.Kind#TIMEOUT};</li>
 *   <li>a full queue (compilation pool, prompt scorer, scheduler, routing worker): a
 *       {@link RequestFailure.Kind#REJECTED}.</li>
 * </ul>
 * Every outcome, synchronous or not, reaches the submitter as an event, never as an exception.
 */
public final class RequestPipeline {
    private final Scheduler scheduler;
    private final Constraints constraints;
    private final PromptScorer scorer;
    private final RoutingWorker routing;
    private final EngineStats stats;
    private final EngineClock clock;
    private final long timeoutNanos;

    public RequestPipeline(Scheduler scheduler, Constraints constraints, PromptScorer scorer, RoutingWorker routing,
                           EngineStats stats, long timeoutNanos) {
        this.scheduler = scheduler;
        this.constraints = constraints;
        this.scorer = scorer;
        this.routing = routing;
        this.stats = stats;
        this.clock = scheduler.clock();
        this.timeoutNanos = timeoutNanos;
    }

    /** Takes the request in (its arrival is now); its events go to {@code events}. Never throws for the request's sake. */
    public RequestHandle submit(String id, InferenceRequest request, RequestEvents events) {
        RequestHandle h = new RequestHandle(id, request, events, clock, timeoutNanos);
        events.onSubmitted(h);
        compile(h);
        return h;
    }

    /** Stage 1: the constraint, compiled off the caller's thread unless the cache has it. */
    private void compile(RequestHandle h) {
        ConstraintSpec spec = h.request().constraint().orElse(null);
        if (spec == null) {
            score(h, null);
            return;
        }
        TokenConstraint cached = constraints.cached(spec);
        if (cached != null) {
            if (fits(h, cached)) {
                score(h, cached);
            }
            return;
        }
        if (!h.enter(RequestState.COMPILING_CONSTRAINT)) {
            return;
        }
        CompletableFuture<TokenConstraint> compiled;
        try {
            compiled = constraints.submit(spec, h::abandoned);
        } catch (RejectedExecutionException e) {
            end(h, new RequestFailure(RequestFailure.Kind.REJECTED, "too many structured-output constraints are compiling ("
                    + constraints.waitingCount() + " waiting); retry later", RequestState.COMPILING_CONSTRAINT));
            return;
        }
        compiled.whenComplete((c, failure) -> {
            if (failure != null) {
                Throwable cause = RequestFailure.unwrap(failure);
                end(h, h.abandoned() ? h.abandonment(RequestState.COMPILING_CONSTRAINT)
                        : cause instanceof ConstraintException ce
                        ? new RequestFailure(RequestFailure.Kind.INVALID, ce.getMessage(), RequestState.COMPILING_CONSTRAINT)
                        : new RequestFailure(RequestFailure.Kind.INTERNAL, "the constraint could not be compiled",
                        RequestState.COMPILING_CONSTRAINT));
            } else if (stillWanted(h, RequestState.COMPILING_CONSTRAINT) && fits(h, c)) {
                score(h, c);
            }
        });
    }

    /**
     * The budget rule's other half ({@link TokenConstraint}): a budget below the constraint's
     * shortest output could only end mid-output, so the request is refused up front.
     */
    private boolean fits(RequestHandle h, TokenConstraint c) {
        int budget = h.request().params().maxTokens();
        if (c.shortest() <= budget) {
            return true;
        }
        end(h, new RequestFailure(RequestFailure.Kind.INVALID, "the shortest output the constraint accepts takes "
                + c.shortest() + " tokens, more than the " + budget + " tokens asked for; raise max_tokens",
                RequestState.COMPILING_CONSTRAINT, "max_tokens"));
        return false;
    }

    /** Stage 2: the prompt's log-probabilities (echo with logprobs), token by token on the prompt scorer. */
    private void score(RequestHandle h, TokenConstraint constraint) {
        if (h.request().scorePrompt().isEmpty()) {
            enqueue(h, constraint);
            return;
        }
        if (!h.enter(RequestState.SCORING_PROMPT)) {
            return;
        }
        CompletableFuture<PromptScorer.Scores> scores;
        try {
            scores = scorer.score(h.request().prompt(), h.request().scorePrompt().getAsInt(), h::abandoned);
        } catch (RejectedExecutionException e) {
            end(h, new RequestFailure(RequestFailure.Kind.REJECTED, "too many prompts are being scored; retry later",
                    RequestState.SCORING_PROMPT));
            return;
        }
        scores.whenComplete((s, failure) -> {
            if (failure != null) {
                end(h, h.abandoned() ? h.abandonment(RequestState.SCORING_PROMPT) : new RequestFailure(RequestFailure.Kind.INTERNAL,
                        "the prompt could not be scored: " + rootMessage(failure), RequestState.SCORING_PROMPT));
            } else if (stillWanted(h, RequestState.SCORING_PROMPT)) {
                h.scored(s);
                if (h.request().params().maxTokens() == 0) {
                    scoredOnly(h);
                } else {
                    enqueue(h, constraint);
                }
            }
        });
    }

    /** max_tokens 0 with prompt scoring: the answer is the prompt and its scores; nothing is generated. */
    private void scoredOnly(RequestHandle h) {
        int prompt = h.request().prompt().length;
        for (int i = 0; i < h.request().n(); i++) {
            h.choiceEnd(i, new TokenListener.Finish(FinishReason.LENGTH, prompt, 0, "", null), null, null);
        }
    }

    /** Stage 3: the scheduler's queue (then running, then, for return_routing, tracing). */
    private void enqueue(RequestHandle h, TokenConstraint constraint) {
        InferenceRequest r = h.request();
        SamplingParams base = constraint == null ? r.params() : r.params().withConstraint(constraint);
        int n = r.n();
        GenerationRequest lead = null;
        List<GenerationRequest> forks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            // choice i samples with seed + i (a random seed each when none is given)
            SamplingParams params = base.seed() == null || i == 0 ? base : base.withSeed(base.seed() + i);
            GenerationRequest g = new GenerationRequest(n == 1 ? h.id() : h.id() + "-" + i, r.prompt(), params,
                    new ChoiceListener(h, i), h.arrivalNanos()).withDecodeMode(r.decode()).withPriority(r.priority());
            h.addChoice(g);
            if (i == 0) {
                lead = g;
            } else {
                forks.add(g);
            }
        }
        lead.withForks(forks);
        synchronized (h) { // WAITING reaches the submitter before any token of the engine's thread
            try {
                scheduler.submit(lead);
            } catch (QueueFullException e) {
                end(h, new RequestFailure(RequestFailure.Kind.REJECTED, e.getMessage(), RequestState.WAITING));
                return;
            } catch (ShuttingDownException e) {
                end(h, new RequestFailure(RequestFailure.Kind.UNAVAILABLE, e.getMessage(), RequestState.WAITING));
                return;
            }
            h.enter(RequestState.WAITING);
        }
    }

    /** One choice's output from the scheduler, and its routing after it. */
    private final class ChoiceListener implements TokenListener {
        private final RequestHandle h;
        private final int index;
        private final List<Long> generated;

        ChoiceListener(RequestHandle h, int index) {
            this.h = h;
            this.index = index;
            this.generated = h.request().routingFrom().isPresent() ? new ArrayList<>() : null;
        }

        @Override
        public void onStart() {
            h.enter(RequestState.RUNNING);
        }

        @Override
        public void onToken(int token, String text, Sampler.Choice choice) {
            if (generated != null && token >= 0) {
                generated.add((long) token);
            }
            h.token(index, token, text, choice);
        }

        @Override
        public void onFinish(Finish finish) {
            if (!finish.reason().completed()) {
                RequestFailure.Kind kind = switch (finish.reason()) {
                    case TIMEOUT -> RequestFailure.Kind.TIMEOUT;
                    case CANCELLED -> RequestFailure.Kind.CANCELLED;
                    default -> RequestFailure.Kind.UNAVAILABLE;
                };
                RequestState stage = h.state() == RequestState.RUNNING ? RequestState.RUNNING : RequestState.WAITING;
                h.fail(new RequestFailure(kind, finish.error() != null ? finish.error()
                        : kind == RequestFailure.Kind.CANCELLED ? "the request was cancelled" : "request timed out", stage));
                return;
            }
            if (generated == null) {
                h.choiceEnd(index, finish, null, null);
            } else {
                trace(finish);
            }
        }

        /** Stage 5: the routing of prompt + output, computed off the engine's loop; the choice ends with it. */
        private void trace(Finish finish) {
            if (!h.enter(RequestState.TRACING_ROUTING)) {
                return;
            }
            long[] prompt = h.request().prompt();
            long[] ids = new long[prompt.length + generated.size()];
            System.arraycopy(prompt, 0, ids, 0, prompt.length);
            for (int i = 0; i < generated.size(); i++) {
                ids[prompt.length + i] = generated.get(i);
            }
            try {
                routing.trace(ids, h::abandoned).whenComplete((t, failure) -> {
                    if (h.abandoned()) {
                        end(h, h.abandonment(RequestState.TRACING_ROUTING));
                    } else {
                        h.choiceEnd(index, finish, t, failure == null ? null
                                : "the routing could not be computed: " + rootMessage(failure));
                    }
                });
            } catch (RejectedExecutionException e) {
                h.choiceEnd(index, finish, null, "the routing could not be computed: too many routing requests are waiting");
            }
        }
    }

    /** After an off-loop stage: false (and the request ended) if it was abandoned meanwhile. */
    private boolean stillWanted(RequestHandle h, RequestState stage) {
        if (h.abandoned()) {
            end(h, h.abandonment(stage));
            return false;
        }
        return true;
    }

    /** Ends a request that never reached the scheduler (or left it early), counted by outcome. */
    private void end(RequestHandle h, RequestFailure f) {
        if (h.state() != RequestState.FINISHED) {
            stats.ended(switch (f.kind()) {
                case REJECTED -> "rejected";
                case INVALID -> "invalid";
                case TIMEOUT -> "timeout";
                case CANCELLED -> "cancelled";
                default -> "error";
            });
        }
        h.fail(f);
    }

    private static String rootMessage(Throwable t) {
        while (t != null && t.getCause() != null && (t instanceof CompletionException || t.getMessage() == null)) {
            t = t.getCause();
        }
        return t == null ? "unknown" : t instanceof CancellationException ? "cancelled" : String.valueOf(t.getMessage());
    }
}

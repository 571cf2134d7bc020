package dev.moaserve.engine;

import dev.moaserve.model.RoutingTrace;

import java.util.ArrayList;
import java.util.List;

/**
 * One request in the engine, as its submitter sees it: its id, its stage, its prompt's scores once
 * computed, and {@link #cancel}. The engine's stages report through it; it passes their events on
 * to the submitter's {@link RequestEvents} one at a time, and nothing after the request ended.
 */
public final class RequestHandle {
    private final String id;
    private final InferenceRequest request;
    private final RequestEvents events;
    private final EngineClock clock;
    private final long arrivalNanos;
    private final long deadlineNanos; // 0: no timeout
    private final List<GenerationRequest> choices = new ArrayList<>();
    private volatile RequestState state;
    private volatile boolean cancelled;
    private volatile PromptScorer.Scores promptScores;
    private int open;

    RequestHandle(String id, InferenceRequest request, RequestEvents events, EngineClock clock, long timeoutNanos) {
        this.id = id;
        this.request = request;
        this.events = events;
        this.clock = clock;
        this.arrivalNanos = clock.nanoTime();
        this.deadlineNanos = timeoutNanos > 0 ? arrivalNanos + timeoutNanos : 0;
        this.open = request.n();
    }

    public String id() {
        return id;
    }

    public InferenceRequest request() {
        return request;
    }

    /** The stage it is in (null before the first). */
    public RequestState state() {
        return state;
    }

    /** The seed choice {@code i} samples with (the request's plus i, or a random one); 0 before it waits for a slot. */
    public synchronized long seed(int i) {
        return i < choices.size() ? choices.get(i).seed() : 0;
    }

    /** The prompt's log-probabilities, once its scoring stage is done (null before, or when not asked). */
    public PromptScorer.Scores promptScores() {
        return promptScores;
    }

    /**
     * The client left: every stage stops at its next check and frees what it holds (a compilation,
     * a queued or running scoring or routing job, a waiting place, a decode slot).
     */
    public void cancel() {
        cancelled = true;
        List<GenerationRequest> running;
        synchronized (this) {
            running = List.copyOf(choices);
        }
        running.forEach(GenerationRequest::cancel);
    }

    long arrivalNanos() {
        return arrivalNanos;
    }

    boolean timedOut() {
        return deadlineNanos != 0 && clock.nanoTime() - deadlineNanos > 0;
    }

    /** Its work should stop: the client left, or its time ran out. Off-loop stages poll this. */
    boolean abandoned() {
        return cancelled || timedOut();
    }

    /** Why it was abandoned, in {@code stage}: cancelled wins (no one is left to read a timeout). */
    RequestFailure abandonment(RequestState stage) {
        return cancelled ? new RequestFailure(RequestFailure.Kind.CANCELLED, "the request was cancelled " + stage.during(), stage)
                : new RequestFailure(RequestFailure.Kind.TIMEOUT, "request timed out " + stage.during(), stage);
    }

    synchronized void addChoice(GenerationRequest r) {
        choices.add(r);
        if (cancelled) {
            r.cancel();
        }
    }

    /** Enters {@code s} unless it already ended; false if it had. */
    synchronized boolean enter(RequestState s) {
        if (state == RequestState.FINISHED) {
            return false;
        }
        if (state != s) {
            state = s;
            events.onState(s);
        }
        return true;
    }

    void scored(PromptScorer.Scores s) {
        promptScores = s;
    }

    synchronized void token(int choice, int token, String text, Sampler.Choice sampled) {
        if (state == RequestState.FINISHED) {
            return;
        }
        if (state != RequestState.RUNNING && state != RequestState.TRACING_ROUTING) {
            enter(RequestState.RUNNING);
        }
        events.onToken(choice, token, text, sampled);
    }

    /** A choice completed; the last one finishes the request. */
    synchronized void choiceEnd(int choice, TokenListener.Finish finish, RoutingTrace routing, String routingError) {
        if (state == RequestState.FINISHED) {
            return;
        }
        boolean last = --open == 0;
        if (last) {
            state = RequestState.FINISHED;
        }
        events.onChoiceEnd(choice, finish, routing, routingError);
        if (last) {
            events.onState(RequestState.FINISHED);
        }
    }

    /** Ends the request with {@code f} (once); its other choices are stopped. */
    void fail(RequestFailure f) {
        List<GenerationRequest> running;
        synchronized (this) {
            if (state == RequestState.FINISHED) {
                return;
            }
            state = RequestState.FINISHED;
            events.onFailed(f);
            running = List.copyOf(choices);
        }
        running.forEach(GenerationRequest::cancel);
    }
}

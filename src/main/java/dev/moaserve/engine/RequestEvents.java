package dev.moaserve.engine;

import dev.moaserve.model.RoutingTrace;

/**
 * What the engine tells about one request, in order, one call at a time (from the engine's loop
 * or a worker thread: a writer hands them to its own thread). A request ends with every choice's
 * {@link #onChoiceEnd} or with one {@link #onFailed}; nothing follows either.
 */
public interface RequestEvents {
    /** First, on the submitter's thread, before any stage: the request's handle (to cancel it by). */
    default void onSubmitted(RequestHandle handle) {}

    /** The request entered a stage; {@link RequestState#WAITING}: the scheduler accepted it. */
    default void onState(RequestState state) {}

    /**
     * One token of choice {@code choice}; {@code text} is what became final with it (can be empty),
     * and {@code token} is −1 for held-back text released without a token.
     */
    void onToken(int choice, int token, String text, Sampler.Choice sampled);

    /**
     * Choice {@code choice} completed (stop or length); {@code routing} its routing when the
     * request asked for it, or {@code routingError} when it could not be computed.
     */
    void onChoiceEnd(int choice, TokenListener.Finish finish, RoutingTrace routing, String routingError);

    /** The request ended without its answer (each choice still running is stopped). */
    void onFailed(RequestFailure failure);
}

package dev.moaserve.engine;

/**
 * Why a request ended without its answer, and in which stage. The API maps each kind to one
 * status (400, 429, 504, 503, 500); a cancelled request has no client left to tell.
 *
 * @param stage the stage it was in when it ended
 * @param param the request's setting at fault, where the engine knows it ({@code max_tokens}); else null
 */
public record RequestFailure(Kind kind, String message, RequestState stage, String param) {
    public RequestFailure(Kind kind, String message, RequestState stage) {
        this(kind, message, stage, null);
    }

    /** What a future's failure stands for: the cause a {@link java.util.concurrent.CompletionException} wraps, else itself. */
    public static Throwable unwrap(Throwable t) {
        return t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    public enum Kind {
        /** The request cannot be served as asked (a constraint that does not compile). */
        INVALID,
        /** A bounded queue is full: retry later. */
        REJECTED,
        /** {@code moa.request-timeout} passed since it arrived. */
        TIMEOUT,
        /** The client left, or the request was cancelled. */
        CANCELLED,
        /** The server is shutting down, or its step failed. */
        UNAVAILABLE,
        /** Off-loop work failed unexpectedly. */
        INTERNAL
    }
}

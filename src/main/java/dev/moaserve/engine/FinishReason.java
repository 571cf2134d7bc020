package dev.moaserve.engine;

import java.util.Locale;

/** Why a request's generation ended. */
public enum FinishReason {
    /** A stop string, the end of a structured output, or the model's end. */
    STOP,
    /** max_tokens reached. */
    LENGTH,
    /** moa.request-timeout passed before it finished. */
    TIMEOUT,
    /** The client went away or the request was cancelled. */
    CANCELLED,
    /** The server could not finish it (shutdown, an internal error). */
    ERROR;

    /** The lower-case name used in responses, logs and metric tags ({@code stop}, {@code length}, …). */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Ended normally, with output for the client (stop or length). */
    public boolean completed() {
        return this == STOP || this == LENGTH;
    }
}

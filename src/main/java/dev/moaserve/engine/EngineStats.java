package dev.moaserve.engine;

/** Observations the scheduler reports (metrics); a no-op by default. */
public interface EngineStats {
    EngineStats NONE = new EngineStats() {};

    default void batch(int sequences) {}

    default void firstToken(double seconds) {}

    default void interToken(double seconds) {}

    default void finished(String reason, int promptTokens, int completionTokens, double seconds) {}

    /** A request ended before it ran (rejected, invalid, timed out or cancelled in an earlier stage). */
    default void ended(String outcome) {}
}

package dev.moaserve.engine;

/**
 * Where the engine reads the time (nanoseconds, monotonic): the system's clock when serving, a
 * test's own that moves only when told, so a timeout can be tested without sleeping.
 */
@FunctionalInterface
public interface EngineClock {
    EngineClock SYSTEM = System::nanoTime;

    long nanoTime();
}

package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;

import java.util.function.BooleanSupplier;

/**
 * Bounds a compilation: a deadline, a state count and the client's presence, checked between the
 * automaton operations and, through {@link #work}, inside the long loops (determinisation): a
 * compilation over a bound is a client error, never a stalled server, and one whose client left
 * stops at the next check.
 */
final class Budget {
    /** Work units (transitions scanned, states made) between two looks at the clock. */
    private static final long CHECK_EVERY = 1 << 16;

    private final long deadline;
    private final long maxMillis;
    private final int maxStates;
    private final BooleanSupplier abandoned;
    private long sinceCheck;

    Budget(long maxMillis, int maxStates) {
        this(maxMillis, maxStates, () -> false);
    }

    /** @param abandoned true once nobody waits for the result (the client left) */
    Budget(long maxMillis, int maxStates, BooleanSupplier abandoned) {
        this.maxMillis = maxMillis;
        this.deadline = System.nanoTime() + maxMillis * 1_000_000L;
        this.maxStates = maxStates;
        this.abandoned = abandoned;
    }

    int maxStates() {
        return maxStates;
    }

    /** Counts {@code units} of work inside a loop; looks at the deadline every {@link #CHECK_EVERY} units. */
    void work(long units, String at) {
        sinceCheck += units;
        if (sinceCheck >= CHECK_EVERY) {
            sinceCheck = 0;
            check(at);
        }
    }

    /**
     * Before an operation whose result has about {@code states} states (a repetition, an
     * intersection): refuses it when that is over the bound, so a huge automaton is never built.
     */
    void expect(long states, String at) {
        if (states > maxStates) {
            throw new ConstraintException("the constraint would compile to more than " + maxStates + " states (moa.structured-output-max-states; at schema" + at
                    + "); simplify it (fewer repetitions, shorter bounds)");
        }
    }

    void check(String at) {
        if (abandoned.getAsBoolean()) {
            throw new ConstraintException("the compilation was abandoned: its client left");
        }
        if (System.nanoTime() > deadline) {
            throw new ConstraintException("the constraint took longer than " + maxMillis + " ms to compile (moa.structured-output-compile-timeout; at schema" + at
                    + "); simplify it");
        }
    }

    /**
     * An inner part: minimised only when that is cheap (small), since dk.brics' determinisation
     * and minimisation cost milliseconds per few hundred states; checks both bounds.
     */
    Automaton reduced(Automaton a, String at) {
        check(at);
        if (a.getNumberOfStates() <= 64) {
            a = deterministic(a, at);
            a.minimize();
        }
        if (a.getNumberOfStates() > maxStates) {
            throw new ConstraintException("the constraint compiles to more than " + maxStates + " states (moa.structured-output-max-states; at schema" + at
                    + "); simplify it");
        }
        return a;
    }

    /** The whole constraint, as built (it may be nondeterministic); checks both bounds. */
    Automaton done(Automaton a, String at) {
        check(at);
        if (a.getNumberOfStates() > maxStates) {
            throw new ConstraintException("the constraint compiles to more than " + maxStates + " states (moa.structured-output-max-states; at schema" + at
                    + "); simplify it");
        }
        return a;
    }

    /** {@code a} minus {@code b}, bounded by this budget (dk.brics' own makes {@code b} deterministic unbounded). */
    Automaton minus(Automaton a, Automaton b, String at) {
        return Product.minus(a, b, this, at);
    }

    /** Strings both accept, bounded by this budget. */
    Automaton intersection(Automaton a, Automaton b, String at) {
        return Product.intersection(a, b, this, at);
    }

    /** The deterministic automaton of {@code a}, bounded by this budget. */
    Automaton deterministic(Automaton a, String at) {
        return Determinizer.of(a, this, at);
    }
}

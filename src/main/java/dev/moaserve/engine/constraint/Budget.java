package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;

/**
 * Bounds a compilation: a deadline and a state count, checked between the automaton operations
 * (a compilation over either is a client error, never a stalled server).
 */
final class Budget {
    private final long deadline;
    private final long maxMillis;
    private final int maxStates;

    Budget(long maxMillis, int maxStates) {
        this.maxMillis = maxMillis;
        this.deadline = System.nanoTime() + maxMillis * 1_000_000L;
        this.maxStates = maxStates;
    }

    /**
     * Before an operation whose result has about {@code states} states (a repetition, an
     * intersection): refuses it when that is over the bound, so a huge automaton is never built.
     */
    void expect(long states, String at) {
        if (states > maxStates) {
            throw new ConstraintException("the constraint would compile to more than " + maxStates + " states (at schema" + at
                    + "); simplify it (fewer repetitions, shorter bounds)");
        }
    }

    void check(String at) {
        if (System.nanoTime() > deadline) {
            throw new ConstraintException("the constraint took longer than " + maxMillis + " ms to compile (at schema" + at
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
            a.minimize();
        }
        if (a.getNumberOfStates() > maxStates) {
            throw new ConstraintException("the constraint compiles to more than " + maxStates + " states (at schema" + at
                    + "); simplify it");
        }
        return a;
    }

    /**
     * The whole constraint, as built (it may be nondeterministic: {@link TokenConstraint} makes
     * it deterministic lazily, for the positions generation reaches); checks both bounds.
     */
    Automaton done(Automaton a, String at) {
        check(at);
        if (a.getNumberOfStates() > maxStates) {
            throw new ConstraintException("the constraint compiles to more than " + maxStates + " states (at schema" + at
                    + "); simplify it");
        }
        return a;
    }
}

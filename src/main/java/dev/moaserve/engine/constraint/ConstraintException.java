package dev.moaserve.engine.constraint;

/** A constraint outside the supported subset, unsatisfiable, or too costly to compile: a client error. */
public final class ConstraintException extends RuntimeException {
    public ConstraintException(String message) {
        super(message);
    }
}

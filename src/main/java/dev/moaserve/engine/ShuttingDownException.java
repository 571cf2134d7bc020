package dev.moaserve.engine;

/** A request was refused because the engine is draining (the API answers 503). */
public final class ShuttingDownException extends RuntimeException {
    public ShuttingDownException(String message) {
        super(message);
    }
}

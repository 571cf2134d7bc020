package dev.moaserve.engine;

/** A request was refused because the waiting queue is full (the API answers 429). */
public final class QueueFullException extends RuntimeException {
    public QueueFullException(String message) {
        super(message);
    }
}

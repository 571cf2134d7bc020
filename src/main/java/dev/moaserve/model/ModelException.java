package dev.moaserve.model;

/** A model directory, file or input that cannot be used; the message names the file and key. */
public class ModelException extends RuntimeException {
    public ModelException(String message) {
        super(message);
    }

    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }
}

package dev.moaserve.engine.constraint;

/**
 * A requested constraint before compilation, as the API parsed it.
 *
 * @param kind  what {@code value} is
 * @param value a JSON Schema (compact JSON text), a regular expression, or a JSON array of choices
 */
public record ConstraintSpec(Kind kind, String value) {
    public enum Kind { JSON_SCHEMA, JSON_OBJECT, REGEX, CHOICE }

    /** The cache key: equal specs compile to the same constraint. */
    String key() {
        return kind + "\u0000" + value;
    }
}

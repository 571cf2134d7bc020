package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Strict, typed reads of one JSON object of a request: every key must be one the route knows
 * (an unknown one is a 400 naming it, as OpenAI answers, never silently ignored), and every
 * value must have its documented type and range. {@code null} counts as absent. Error
 * parameters are named with their path ({@code parameters.top_k}).
 */
public final class JsonFields {
    private final JsonNode node;
    private final String prefix;

    /**
     * @param known       keys this object may hold
     * @param unsupported keys clients send that this server does not implement, with the reason
     *                    (checked by the caller where some values are acceptable)
     */
    public JsonFields(JsonNode node, String prefix, Set<String> known, Map<String, String> unsupported) {
        if (node == null || !node.isObject()) {
            throw ApiException.invalid(prefix.isEmpty() ? null : prefix.substring(0, prefix.length() - 1),
                    prefix.isEmpty() ? "the request body must be a JSON object" : "'" + prefix.substring(0, prefix.length() - 1) + "' must be an object");
        }
        this.node = node;
        this.prefix = prefix;
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (unsupported.containsKey(k) && !node.get(k).isNull()) {
                throw ApiException.invalid(prefix + k, "'" + prefix + k + "' is not supported by this server: " + unsupported.get(k));
            }
            if (!known.contains(k) && !unsupported.containsKey(k)) {
                throw ApiException.invalid(prefix + k, "Unrecognized request argument supplied: " + prefix + k);
            }
        }
    }

    public String name(String key) {
        return prefix + key;
    }

    public boolean has(String key) {
        JsonNode v = node.get(key);
        return v != null && !v.isNull();
    }

    public JsonNode raw(String key) {
        JsonNode v = node.get(key);
        return v == null || v.isNull() ? null : v;
    }

    public boolean bool(String key, boolean fallback) {
        JsonNode v = raw(key);
        if (v == null) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw ApiException.invalid(name(key), "'" + name(key) + "' must be a boolean (true or false)");
        }
        return v.asBoolean();
    }

    public String string(String key, String fallback) {
        JsonNode v = raw(key);
        if (v == null) {
            return fallback;
        }
        if (!v.isTextual()) {
            throw ApiException.invalid(name(key), "'" + name(key) + "' must be a string");
        }
        return v.asText();
    }

    /** A finite number in [min, max]. */
    public double number(String key, double fallback, double min, double max) {
        JsonNode v = raw(key);
        if (v == null) {
            return fallback;
        }
        double d = v.asDouble();
        if (!v.isNumber() || !Double.isFinite(d) || d < min || d > max) {
            throw ApiException.invalid(name(key), "'" + name(key) + "' must be a number in [" + fmt(min) + ", " + fmt(max) + "]");
        }
        return d;
    }

    /** An integer (2 or 2.0, never 2.5) in [min, max]. */
    public long integer(String key, long fallback, long min, long max) {
        JsonNode v = raw(key);
        if (v == null) {
            return fallback;
        }
        if (!isInteger(v) || v.asLong() < min || v.asLong() > max) {
            throw ApiException.invalid(name(key), "'" + name(key) + "' must be an integer in [" + min + ", " + max + "]");
        }
        return v.asLong();
    }

    /** Whether {@code v} is a JSON number with an integral value that fits a long. */
    public static boolean isInteger(JsonNode v) {
        if (v.isIntegralNumber()) {
            return v.canConvertToLong();
        }
        return v.isFloatingPointNumber() && Double.isFinite(v.asDouble()) && v.asDouble() == Math.rint(v.asDouble())
                && Math.abs(v.asDouble()) < 9.0e18;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}

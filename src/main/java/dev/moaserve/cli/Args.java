package dev.moaserve.cli;

import java.util.HashMap;
import java.util.Map;

/** {@code --key value} and {@code --flag} command-line options. */
public final class Args {
    private final Map<String, String> values = new HashMap<>();

    public Args(String[] args, String... flags) {
        java.util.Set<String> flagSet = java.util.Set.of(flags);
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument '" + a + "'");
            }
            String key = a.substring(2);
            if (flagSet.contains(key)) {
                values.put(key, "true");
            } else if (i + 1 < args.length) {
                values.put(key, args[++i]);
            } else {
                throw new IllegalArgumentException("option --" + key + " needs a value");
            }
        }
    }

    public String string(String key, String fallback) {
        return values.getOrDefault(key, fallback);
    }

    public String required(String key) {
        String v = values.get(key);
        if (v == null) {
            throw new IllegalArgumentException("missing option --" + key);
        }
        return v;
    }

    public int integer(String key, int fallback) {
        return parsed(key, fallback, Integer::parseInt, "an integer");
    }

    public double number(String key, double fallback) {
        return parsed(key, fallback, Double::parseDouble, "a number");
    }

    private <T> T parsed(String key, T fallback, java.util.function.Function<String, T> parse, String what) {
        String v = values.get(key);
        try {
            return v == null ? fallback : parse.apply(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("option --" + key + " must be " + what + ", got '" + v + "'");
        }
    }

    public boolean flag(String key) {
        return values.containsKey(key);
    }
}

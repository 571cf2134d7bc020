package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;

/**
 * String formats as the languages of their values. Only values that are valid by any reading of
 * the format are produced: days run to 28 in every month (no calendar is needed to know a date is
 * real), e-mail addresses are plain {@code local@domain.tld} with a common top-level domain (validators
 * check the domain against the registry's list).
 */
final class Formats {
    private static final String DATE = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])";
    private static final String TIME = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-7]):[0-5][0-9])";

    private Formats() {}

    static Automaton of(String format, String at) {
        String regex = switch (format) {
            case "date" -> DATE;
            case "time" -> TIME;
            case "date-time" -> DATE + "T" + TIME;
            case "uuid" -> "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
            // within RFC 5321's lengths (local part ≤ 64, domain ≤ 255): at most 64 + 1 + 95 characters
            case "email" -> "[a-zA-Z0-9_+-]{1,16}(\\.[a-zA-Z0-9_+-]{1,15}){0,3}@[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?){0,3}\\.(com|org|net|edu|io|dev)";
            case "ipv4" -> "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
            default -> throw new ConstraintException("unsupported string format '" + format + "' at schema" + at
                    + " (supported: date, time, date-time, uuid, email, ipv4)");
        };
        return RegexSyntax.fullMatch(regex);
    }
}

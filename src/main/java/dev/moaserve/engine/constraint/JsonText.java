package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;

/** JSON string syntax as automata: one character of string content, and a whole string. */
final class JsonText {
    private JsonText() {}

    /**
     * A character that stands for itself inside a JSON string: not {@code "}, {@code \} or a
     * control character; outside the BMP a surrogate pair (one character, as JSON Schema counts).
     */
    private static Automaton plain() {
        return Automaton.makeCharRange('\u0020', '\u0021')
                .union(Automaton.makeCharRange('\u0023', '\u005B'))
                .union(Automaton.makeCharRange('\u005D', '\uD7FF'))
                .union(Automaton.makeCharRange('\uE000', '\uFFFF'))
                .union(Automaton.makeCharRange('\uD800', '\uDBFF').concatenate(Automaton.makeCharRange('\uDC00', '\uDFFF')));
    }

    private static final Automaton CHARACTER = buildCharacter();
    private static final java.util.concurrent.ConcurrentHashMap<Long, Automaton> BOUNDED = new java.util.concurrent.ConcurrentHashMap<>();

    /** Distinct (min, max) pairs kept: requests choose the bounds, so the cache must not grow with them. */
    private static final int BOUNDED_KEPT = 256;

    /** String content of {@code min}..{@code max} characters ({@code max} < 0: unbounded), minimal, cached. */
    static Automaton content(int min, int max) {
        long key = ((long) min << 32) | (max & 0xffffffffL);
        Automaton known = BOUNDED.get(key);
        if (known == null) {
            known = max < 0 ? CHARACTER.repeat(min) : CHARACTER.repeat(min, max);
            known.minimize();
            if (BOUNDED.size() < BOUNDED_KEPT) {
                BOUNDED.putIfAbsent(key, known);
            }
        }
        return known.clone();
    }

    /**
     * One character of string content, written one way only: itself, or, for the characters JSON
     * must escape, {@code \"}, {@code \\}, {@code \b \f \n \r \t} or a u00XX escape (as Jackson
     * writes them). So two strings are the same value only if they are the same text (which keeps
     * enum, const and oneOf exact on the text).
     */
    private static Automaton buildCharacter() {
        Automaton shortForm = Automaton.makeCharSet("\"\\bfnrt");
        Automaton control = Automaton.makeString("u00").concatenate(Automaton.makeCharSet("01"))
                .concatenate(Automaton.makeCharRange('0', '9').union(Automaton.makeCharRange('A', 'F')))
                .minus(Automaton.makeString("u0008").union(Automaton.makeString("u0009")).union(Automaton.makeString("u000A"))
                        .union(Automaton.makeString("u000C")).union(Automaton.makeString("u000D")));
        Automaton a = plain().union(Automaton.makeChar('\\').concatenate(shortForm.union(control)));
        a.minimize();
        return a;
    }

    /** Text of code points: any UTF-16 unit but a lone surrogate, or a surrogate pair. */
    private static final Automaton CODE_POINTS = Automaton.makeCharRange('\u0000', '\uD7FF')
            .union(Automaton.makeCharRange('\uE000', '\uFFFF'))
            .union(Automaton.makeCharRange('\uD800', '\uDBFF').concatenate(Automaton.makeCharRange('\uDC00', '\uDFFF')))
            .repeat();

    /**
     * The string contents (quotes excluded) whose decoded text is in {@code decoded}, written as
     * {@link #content} writes them: each character JSON must escape replaced by its one escape.
     */
    static Automaton encoded(Automaton decoded) {
        Automaton a = decoded.intersection(CODE_POINTS.clone());
        a = a.subst('\\', "\\\\"); // first: the escapes written below start with a backslash
        a = a.subst('"', "\\\"");
        for (char c = 0; c < 0x20; c++) {
            a = a.subst(c, switch (c) {
                case '\b' -> "\\b";
                case '\f' -> "\\f";
                case '\n' -> "\\n";
                case '\r' -> "\\r";
                case '\t' -> "\\t";
                default -> String.format("\\u%04X", (int) c);
            });
        }
        return a;
    }

    /** Any JSON string, quotes included. */
    static Automaton string() {
        return Automaton.makeChar('"').concatenate(content(0, -1)).concatenate(Automaton.makeChar('"'));
    }
}

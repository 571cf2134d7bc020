package dev.moaserve.engine.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import dk.brics.automaton.Automaton;
import dk.brics.automaton.RegExp;

/**
 * JSON numbers as automata, bounds kept exactly: integers in [lo, hi] through dk.brics' decimal
 * intervals; numbers between integer bounds by their integer part plus a fraction. Numbers are
 * written one way only (no exponent, no trailing zeros in a fraction, no "-0"), so two strings
 * are the same number only if they are the same string: an integer-valued number is written as
 * an integer (JSON Schema counts 5.0 as an integer), and oneOf's "exactly one" computed on the
 * strings holds for the values. Bounds beyond ±2^31−2, non-integer bounds on numbers, exclusive
 * bounds on numbers and multipleOf are refused.
 */
final class Numbers {
    private static final Automaton NATURAL = new RegExp("0|[1-9][0-9]*").toAutomaton();
    private static final Automaton FRACTION = new RegExp("\\.[0-9]*[1-9]").toAutomaton();
    private static final Automaton ANY = new RegExp("0|\\-?[1-9][0-9]*(\\.[0-9]*[1-9])?|\\-?0\\.[0-9]*[1-9]").toAutomaton();

    private Numbers() {}

    static Automaton integer(JsonNode min, JsonNode max, JsonNode exMin, JsonNode exMax, String at) {
        Long lo = null;
        Long hi = null;
        if (min != null) {
            lo = (long) Math.ceil(min.asDouble());
        }
        if (exMin != null) {
            long l = (long) Math.floor(exMin.asDouble()) + 1;
            lo = lo == null ? l : Math.max(lo, l);
        }
        if (max != null) {
            hi = (long) Math.floor(max.asDouble());
        }
        if (exMax != null) {
            long h = (long) Math.ceil(exMax.asDouble()) - 1;
            hi = hi == null ? h : Math.min(hi, h);
        }
        checkRange(lo, at);
        checkRange(hi, at);
        if (lo != null && hi != null && lo > hi) {
            throw new ConstraintException("schema" + at + ": no integer lies between its bounds");
        }
        Automaton a = Automaton.makeEmpty();
        if (hi == null || hi >= 0) {
            a = a.union(naturals(lo == null ? 0 : Math.max(lo, 0), hi));
        }
        if (lo == null || lo < 0) {
            long top = hi == null ? -1 : Math.min(hi, -1);
            a = a.union(Automaton.makeChar('-').concatenate(naturals(-top, lo == null ? null : -lo)));
        }
        return a;
    }

    static Automaton number(JsonNode min, JsonNode max, JsonNode exMin, JsonNode exMax, String at) {
        if (exMin != null || exMax != null) {
            throw new ConstraintException("schema" + at + ": exclusiveMinimum/exclusiveMaximum on a number are not supported (use minimum/maximum, or type integer)");
        }
        if (min == null && max == null) {
            return ANY.clone();
        }
        Long lo = integral(min, "minimum", at);
        Long hi = integral(max, "maximum", at);
        checkRange(lo, at);
        checkRange(hi, at);
        if (lo != null && hi != null && lo > hi) {
            throw new ConstraintException("schema" + at + ": minimum > maximum");
        }
        Automaton a = Automaton.makeEmpty();
        if (hi == null || hi >= 0) {
            a = a.union(nonNegative(lo == null ? 0 : Math.max(lo, 0), hi));
        }
        if (lo == null || lo < 0) {
            // −x for x in [max(0, −hi), −lo]
            long from = hi == null || hi >= 0 ? 0 : -hi;
            a = a.union(Automaton.makeChar('-').concatenate(nonNegative(from, lo == null ? null : -lo)
                    .minus(Automaton.makeChar('0'))));
        }
        return a;
    }

    /** Decimal reals in [p, q] (q null: unbounded), p ≥ 0, written without exponent. */
    private static Automaton nonNegative(long p, Long q) {
        if (q == null) {
            return naturals(p, null).concatenate(FRACTION.clone().optional());
        }
        Automaton exact = Automaton.makeString(Long.toString(q));
        if (p > q - 1) {
            return p == q ? exact : Automaton.makeEmpty();
        }
        return naturals(p, q - 1).concatenate(FRACTION.clone().optional()).union(exact);
    }

    /** Integers in [a, b] (b null: unbounded), a ≥ 0, without leading zeros. */
    private static Automaton naturals(long a, Long b) {
        if (b != null && b < a) {
            return Automaton.makeEmpty();
        }
        if (b != null) {
            return Automaton.makeInterval((int) a, (int) (long) b, 0).intersection(NATURAL);
        }
        return a == 0 ? NATURAL.clone() : NATURAL.minus(Automaton.makeInterval(0, (int) (a - 1), 0));
    }

    private static Long integral(JsonNode n, String key, String at) {
        if (n == null) {
            return null;
        }
        double d = n.asDouble();
        if (d != Math.rint(d)) {
            throw new ConstraintException("schema" + at + "." + key + ": a non-integer bound on a number is not supported");
        }
        return (long) d;
    }

    private static void checkRange(Long bound, String at) {
        if (bound != null && Math.abs(bound) > Integer.MAX_VALUE - 1) {
            throw new ConstraintException("schema" + at + ": bounds beyond ±" + (Integer.MAX_VALUE - 1) + " are not supported");
        }
    }
}

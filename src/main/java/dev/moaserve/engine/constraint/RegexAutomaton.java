package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.State;
import dk.brics.automaton.Transition;

import java.util.ArrayList;
import java.util.List;

/**
 * The automaton of a regex in dk.brics' syntax (as {@link RegexSyntax} writes it: escaped
 * characters, classes, groups, {@code | * + ? {n,m}}), built without determinising anything.
 * dk.brics' own {@code RegExp.toAutomaton} minimises after every union and concatenation whatever
 * it is told, which is exponential for {@code (a|b)*a(a|b){18}}; here the result is a
 * nondeterministic automaton about the regex's size, made deterministic once, under a budget.
 */
final class RegexAutomaton {
    private final String s;
    private int i;

    private RegexAutomaton(String s) {
        this.s = s;
    }

    /** @throws IllegalArgumentException for a syntax error */
    static Automaton of(String brics) {
        RegexAutomaton p = new RegexAutomaton(brics);
        Automaton a = p.union();
        if (p.i < brics.length()) {
            throw new IllegalArgumentException("unexpected '" + brics.charAt(p.i) + "' at position " + p.i);
        }
        return a;
    }

    private Automaton union() {
        List<Automaton> alternatives = new ArrayList<>();
        alternatives.add(concatenation());
        while (i < s.length() && s.charAt(i) == '|') {
            i++;
            alternatives.add(concatenation());
        }
        return alternatives.size() == 1 ? alternatives.get(0) : Automaton.union(alternatives);
    }

    private Automaton concatenation() {
        List<Automaton> parts = new ArrayList<>();
        while (i < s.length() && s.charAt(i) != '|' && s.charAt(i) != ')') {
            parts.add(repetition());
        }
        return parts.isEmpty() ? Automaton.makeEmptyString() : parts.size() == 1 ? parts.get(0) : Automaton.concatenate(parts);
    }

    private Automaton repetition() {
        Automaton a = atom();
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '*') {
                a = a.repeat();
            } else if (c == '+') {
                a = a.repeat(1);
            } else if (c == '?') {
                a = a.optional();
            } else if (c == '{') {
                int close = s.indexOf('}', i);
                if (close < 0) {
                    throw new IllegalArgumentException("unterminated repetition at position " + i);
                }
                String[] parts = s.substring(i + 1, close).split(",", -1);
                int min = Integer.parseInt(parts[0]);
                if (parts.length == 1) {
                    a = a.repeat(min, min);
                } else if (parts[1].isEmpty()) {
                    a = a.repeat(min);
                } else {
                    a = a.repeat(min, Integer.parseInt(parts[1]));
                }
                i = close;
            } else {
                break;
            }
            i++;
        }
        return a;
    }

    private Automaton atom() {
        char c = s.charAt(i++);
        switch (c) {
            case '(' -> {
                Automaton a = union();
                if (i >= s.length() || s.charAt(i) != ')') {
                    throw new IllegalArgumentException("missing ')' at position " + i);
                }
                i++;
                return a;
            }
            case '[' -> {
                return characterClass();
            }
            case '\\' -> {
                return Automaton.makeChar(s.charAt(i++));
            }
            default -> {
                return Automaton.makeChar(c);
            }
        }
    }

    /** {@code [...]} or {@code [^...]}: one step on any character of the set, as one state with a transition per range. */
    private Automaton characterClass() {
        boolean negated = i < s.length() && s.charAt(i) == '^';
        if (negated) {
            i++;
        }
        List<int[]> ranges = new ArrayList<>();
        while (i < s.length() && s.charAt(i) != ']') {
            char lo = classChar();
            char hi = lo;
            if (i + 1 < s.length() && s.charAt(i) == '-' && s.charAt(i + 1) != ']') {
                i++;
                hi = classChar();
            }
            if (lo <= hi) {
                ranges.add(new int[] {lo, hi});
            }
        }
        if (i >= s.length()) {
            throw new IllegalArgumentException("unterminated character class");
        }
        i++;
        State start = new State();
        State end = new State();
        end.setAccept(true);
        for (int[] r : negated ? complement(merged(ranges)) : merged(ranges)) {
            start.addTransition(new Transition((char) r[0], (char) r[1], end));
        }
        Automaton a = new Automaton();
        a.setInitialState(start);
        a.setDeterministic(true);
        return a;
    }

    /** The ranges sorted and joined where they overlap or touch. */
    private static List<int[]> merged(List<int[]> ranges) {
        ranges.sort((x, y) -> Integer.compare(x[0], y[0]));
        List<int[]> out = new ArrayList<>();
        for (int[] r : ranges) {
            int[] last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && r[0] <= last[1] + 1) {
                last[1] = Math.max(last[1], r[1]);
            } else {
                out.add(new int[] {r[0], r[1]});
            }
        }
        return out;
    }

    /** The characters outside sorted, disjoint ranges. */
    private static List<int[]> complement(List<int[]> ranges) {
        List<int[]> out = new ArrayList<>();
        int from = 0;
        for (int[] r : ranges) {
            if (r[0] > from) {
                out.add(new int[] {from, r[0] - 1});
            }
            from = r[1] + 1;
        }
        if (from <= Character.MAX_VALUE) {
            out.add(new int[] {from, Character.MAX_VALUE});
        }
        return out;
    }

    private char classChar() {
        char c = s.charAt(i++);
        return c == '\\' ? s.charAt(i++) : c;
    }
}

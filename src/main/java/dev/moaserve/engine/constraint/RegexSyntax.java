package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.RegExp;

/**
 * The regular expressions users write (Python/JavaScript/Java syntax, as vLLM, TGI and JSON
 * Schema's {@code pattern} take them) translated into dk.brics' syntax, which differs: it has no
 * {@code \d \w \s}, treats {@code & ~ # @ < > "} as operators, and has no anchors, lazy
 * quantifiers, lookaround or back-references. Those that change the language (lookaround,
 * back-references, anchors inside the expression) are refused, never approximated.
 */
final class RegexSyntax {
    // dk.brics reads "\\n" as the letter n: control characters are written as themselves
    private static final String DIGIT_IN_CLASS = "0-9";
    private static final String WORD_IN_CLASS = "a-zA-Z0-9_";
    private static final String SPACE_IN_CLASS = " \t\n\r\f\u000B";
    private static final String DIGIT = "[" + DIGIT_IN_CLASS + "]";
    private static final String WORD = "[" + WORD_IN_CLASS + "]";
    private static final String SPACE = "[" + SPACE_IN_CLASS + "]";
    /**
     * What {@code .} does not match: Java's and JavaScript's line terminators (Python's {@code .}
     * excludes only the newline): the narrower language, so a written string matches under each.
     */
    private static final String LINE_TERMINATORS = "\n\r\u0085\u2028\u2029";

    /**
     * A character matches a whole code point, as in Java's and JavaScript's Unicode regexes: a
     * negated set ({@code .}, {@code [^…]}, {@code \D}) takes a surrogate pair or any one unit
     * that is not half of one.
     */
    private static final String SURROGATES = "\uD800-\uDFFF";
    private static final String PAIR = "[\uD800-\uDBFF][\uDC00-\uDFFF]";
    private static final String NEGATED_END = SURROGATES + "]|" + PAIR + ")";

    private static String allBut(String classBody) {
        return "([^" + classBody + NEGATED_END;
    }

    private RegexSyntax() {}

    /** The automaton of strings the regex matches as a whole (full match: anchors at both ends are implied). */
    static Automaton fullMatch(String regex) {
        return compile(regex, false);
    }

    /**
     * The automaton of strings containing a match, as JSON Schema's {@code pattern} means it
     * (unanchored unless it starts with {@code ^} / ends with {@code $}).
     */
    static Automaton search(String regex) {
        return compile(regex, true);
    }

    /** Longest regex accepted; and the most automaton states its repetitions may multiply up to. */
    static final int MAX_LENGTH = 2_000;
    static final long MAX_SIZE = 200_000;

    private static Automaton compile(String regex, boolean search) {
        if (regex.length() > MAX_LENGTH) {
            throw new ConstraintException("the regular expression is longer than " + MAX_LENGTH + " characters");
        }
        String r = regex;
        boolean anchoredStart = r.startsWith("^");
        boolean anchoredEnd = r.endsWith("$") && !r.endsWith("\\$");
        if (anchoredStart) {
            r = r.substring(1);
        }
        if (anchoredEnd) {
            r = r.substring(0, r.length() - 1);
        }
        String translated = translate(r, regex);
        if (size(r) > MAX_SIZE) {
            // nested repetitions multiply ((a{100}){100}: 10,000 states); refused before building anything
            throw new ConstraintException("the regular expression '" + regex + "' would compile to more than " + MAX_SIZE
                    + " states (nested repetitions multiply); simplify it");
        }
        Automaton a;
        try {
            new RegExp(translated, RegExp.NONE); // syntax errors in dk.brics' words
            // built without determinising (dk.brics' toAutomaton would, exponentially for (a|b)*a(a|b){18});
            // the constraint is made deterministic once, under the compilation's budget
            a = RegexAutomaton.of(translated);
        } catch (IllegalArgumentException e) {
            throw new ConstraintException("invalid regular expression '" + regex + "': " + e.getMessage());
        }
        if (search) {
            if (!anchoredStart) {
                a = Automaton.makeAnyString().concatenate(a);
            }
            if (!anchoredEnd) {
                a = a.concatenate(Automaton.makeAnyString());
            }
        }
        return a;
    }

    private static String translate(String r, String original) {
        StringBuilder out = new StringBuilder();
        boolean inClass = false;
        boolean negated = false;
        for (int i = 0; i < r.length(); i++) {
            char c = r.charAt(i);
            if (c == '\\') {
                if (i + 1 >= r.length()) {
                    throw unsupported(original, "a trailing backslash");
                }
                char e = r.charAt(++i);
                switch (e) {
                    case 'd' -> out.append(inClass ? DIGIT_IN_CLASS : DIGIT);
                    case 'w' -> out.append(inClass ? WORD_IN_CLASS : WORD);
                    case 's' -> out.append(inClass ? SPACE_IN_CLASS : SPACE);
                    case 'D', 'W', 'S' -> {
                        if (inClass) {
                            throw unsupported(original, "\\" + e + " inside a character class");
                        }
                        out.append(allBut(e == 'D' ? DIGIT_IN_CLASS : e == 'W' ? WORD_IN_CLASS : SPACE_IN_CLASS));
                    }
                    case 'n' -> out.append('\n');
                    case 't' -> out.append('\t');
                    case 'r' -> out.append('\r');
                    case 'f' -> out.append('\f');
                    case 'v' -> out.append('\u000B');
                    case 'u' -> {
                        if (i + 4 >= r.length()) {
                            throw unsupported(original, "a short \\u escape");
                        }
                        char u = (char) Integer.parseInt(r.substring(i + 1, i + 5), 16);
                        out.append(escape(u));
                        i += 4;
                    }
                    case 'b', 'B', 'A', 'z', 'Z', 'G' -> throw unsupported(original, "the anchor \\" + e);
                    default -> {
                        if (Character.isDigit(e)) {
                            throw unsupported(original, "a back-reference \\" + e);
                        }
                        out.append(escape(e));
                    }
                }
                continue;
            }
            if (inClass) {
                if (c == ']') {
                    inClass = false;
                    out.append(negated ? NEGATED_END : "]");
                } else if (Character.isSurrogate(c)) {
                    throw unsupported(original, "a character outside the Basic Multilingual Plane inside a character class");
                } else if (c == '[') {
                    out.append("\\[");
                } else if (c == '^' || c == '-') {
                    out.append(c);
                } else {
                    out.append(escape(c));
                }
                continue;
            }
            switch (c) {
                case '[' -> {
                    inClass = true;
                    negated = i + 1 < r.length() && r.charAt(i + 1) == '^';
                    if (negated) {
                        out.append("([^");
                        i++;
                    } else {
                        out.append('[');
                    }
                    if (i + 1 < r.length() && r.charAt(i + 1) == ']') {
                        out.append("\\]"); // a leading ] is a literal
                        i++;
                    }
                }
                case '(' -> {
                    if (r.startsWith("(?:", i)) {
                        i += 2;
                    } else if (r.startsWith("(?<", i) && i + 3 < r.length() && r.charAt(i + 3) != '=' && r.charAt(i + 3) != '!') {
                        int close = r.indexOf('>', i);
                        if (close < 0) {
                            throw unsupported(original, "an unterminated group name");
                        }
                        i = close; // a named group matches like a plain one
                    } else if (r.startsWith("(?P<", i)) {
                        int close = r.indexOf('>', i);
                        if (close < 0) {
                            throw unsupported(original, "an unterminated group name");
                        }
                        i = close;
                    } else if (r.startsWith("(?", i)) {
                        throw unsupported(original, "lookaround or inline flags '(?" + (i + 2 < r.length() ? r.charAt(i + 2) : ' ') + "'");
                    }
                    out.append('(');
                }
                case '^' -> throw unsupported(original, "'^' other than at the start");
                case '$' -> throw unsupported(original, "'$' other than at the end");
                case '.' -> out.append(allBut(LINE_TERMINATORS));
                case '*', '+', '?' -> {
                    out.append(c);
                    if (i + 1 < r.length() && (r.charAt(i + 1) == '?' || r.charAt(i + 1) == '+')) {
                        i++; // lazy and possessive quantifiers match the same strings as a whole
                    }
                }
                case '{' -> {
                    int close = r.indexOf('}', i);
                    String body = close < 0 ? "" : r.substring(i + 1, close);
                    if (!body.matches("\\d+(,\\d*)?")) {
                        out.append("\\{"); // a literal brace, as in Python
                        continue;
                    }
                    String[] parts = body.split(",", -1);
                    int min = Integer.parseInt(parts[0]);
                    if (min > 1000 || (parts.length == 2 && !parts[1].isEmpty() && Integer.parseInt(parts[1]) > 1000)) {
                        throw unsupported(original, "a repetition count over 1000");
                    }
                    out.append('{').append(body).append('}');
                    i = close;
                    if (i + 1 < r.length() && r.charAt(i + 1) == '?') {
                        i++;
                    }
                }
                case '|', ')' -> out.append(c);
                default -> {
                    if (Character.isHighSurrogate(c) && i + 1 < r.length() && Character.isLowSurrogate(r.charAt(i + 1))) {
                        out.append('(').append(c).append(r.charAt(++i)).append(')'); // one code point: a quantifier takes both units
                    } else {
                        out.append(escape(c));
                    }
                }
            }
        }
        if (inClass) {
            throw unsupported(original, "an unterminated character class");
        }
        return out.toString();
    }

    /**
     * An upper estimate of the automaton's size: atoms count 1, a group the sum of its parts,
     * {@code {n,m}} multiplies what it repeats by m (n when unbounded); {@code * + ?} add nothing.
     */
    private static final long CAP = 1_000_000_000_000L; // counts saturate here (repetitions are ≤ 1000 each)

    static long size(String r) {
        long[] result = new long[1];
        sizeOf(r, 0, result);
        return result[0];
    }

    /** The size of the group starting at {@code i} (up to its ')' or the end); returns the index after it. */
    private static int sizeOf(String r, int i, long[] out) {
        long total = 0;
        long last = 0; // the size of the atom just read, which a quantifier applies to
        while (i < r.length()) {
            char c = r.charAt(i);
            if (c == ')') {
                out[0] = total;
                return i + 1;
            }
            if (c == '(') {
                long[] inner = new long[1];
                i = sizeOf(r, i + 1, inner);
                last = Math.max(1, inner[0]);
                total += last;
                continue;
            }
            if (c == '{') {
                int close = r.indexOf('}', i);
                String body = close < 0 ? "" : r.substring(i + 1, close);
                if (body.matches("\\d+(,\\d*)?")) {
                    String[] parts = body.split(",", -1);
                    long times = parts.length == 2 && !parts[1].isEmpty() ? Long.parseLong(parts[1]) : Long.parseLong(parts[0]);
                    total = Math.min(CAP, total + last * Math.max(0, times - 1));
                    last = Math.min(CAP, last * Math.max(1, times));
                    i = close + 1;
                    continue;
                }
            }
            if (c == '\\' && i + 1 < r.length()) {
                i++;
            } else if (c == '[') {
                int close = r.indexOf(']', i + 2);
                i = close < 0 ? r.length() - 1 : close;
            }
            if (c != '*' && c != '+' && c != '?' && c != '|') {
                last = 1;
                total += 1;
            }
            i++;
        }
        out[0] = total;
        return i;
    }

    /** A literal character in dk.brics syntax (its operators and quote escaped). */
    private static String escape(char c) {
        return Character.isLetterOrDigit(c) || c == ' ' || c == '_' || c > 127 ? String.valueOf(c) : "\\" + c;
    }

    private static ConstraintException unsupported(String regex, String what) {
        return new ConstraintException("unsupported regular expression '" + regex + "': " + what + " is not supported");
    }
}

package dev.moaserve.engine.constraint;

import dk.brics.automaton.RunAutomaton;
import org.junit.jupiter.api.Test;

import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Translated regexes match what Java's own engine matches, on texts that tell the traps apart
 * (valid Unicode only: a lone surrogate is never text a model writes or JSON carries).
 */
class RegexSyntaxTest {
    private static final String[] TEXTS = {"", "a", "t", "n", " ", "\t", "\n", "\u000B", "é", "\uD83D\uDE00",
            "\uD83D\uDE00\uD83D\uDE00", "a\uD83D\uDE00b", "ab", "7", "x y",
            "\r", "a\rb", "\u0085", "\u2028", "\u2029"};

    @Test
    void classesAndDotsMatchAsJavaMatches() {
        for (String regex : new String[] {"\\s", "\\S", "\\d", "\\D", "\\w+", "\\W", ".", ".+", "a.b", "[^a]",
                "[^a]*", "[\\s\\d]+", "\uD83D\uDE00+", "[a-z]{2}"}) {
            RunAutomaton translated = new RunAutomaton(RegexSyntax.fullMatch(regex));
            for (String text : TEXTS) {
                boolean java = Pattern.compile(regex).matcher(text).matches();
                assertEquals(java, translated.run(text), "/" + regex + "/ on " + escaped(text));
            }
        }
    }

    private static String escaped(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.chars().forEach(c -> b.append(c < 0x20 || c > 0x7e ? String.format("\\u%04X", c) : String.valueOf((char) c)));
        return b.append('"').toString();
    }
}

package dev.moaserve.engine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Stop strings found in text that arrives in pieces: never streamed, never in the output, and
 * generation ends at the first piece after which any stop string appears (as vLLM and TGI check
 * after each token), cut at the earliest stop found then.
 */
class StopMatcherTest {

    /** What a client receives: every append, then the flush. */
    private static String stream(StopMatcher m, List<String> pieces) {
        StringBuilder out = new StringBuilder();
        for (String p : pieces) {
            out.append(m.append(p));
        }
        return out.append(m.flush()).toString();
    }

    @Test
    void aStopSplitAcrossPiecesIsNeitherStreamedNorKept() {
        StopMatcher m = new StopMatcher(List.of("\n\n"));
        assertEquals("Hello", m.append("Hello\n"));   // the newline could start the stop: held back
        assertEquals("", m.append("\nworld"));
        assertTrue(m.stopped());
        assertEquals("Hello", m.text());
        assertEquals("", m.flush());
    }

    @Test
    void heldBackTextIsReleasedWhenItIsNotAStop() {
        StopMatcher m = new StopMatcher(List.of("END"));
        assertEquals("a", m.append("aE"));
        assertEquals("EN", m.append("Nx").substring(0, 2));
        assertFalse(m.stopped());
        StopMatcher tail = new StopMatcher(List.of("END"));
        tail.append("abEN");
        assertEquals("EN", tail.flush(), "generation ended for another reason: the tail is the client's");
    }

    @Test
    void theEarliestOfSeveralStopsWins() {
        StopMatcher m = new StopMatcher(List.of("xyz", "b"));
        assertEquals("a", stream(m, List.of("ab", "cxyz")));
        assertEquals("a", m.text());
    }

    @Test
    void randomSplitsGiveTheTextUpToTheFirstStop() {
        Random rnd = new Random(11);
        String alphabet = "ab\n.";
        for (int trial = 0; trial < 2000; trial++) {
            StringBuilder t = new StringBuilder();
            int n = rnd.nextInt(30);
            for (int i = 0; i < n; i++) {
                t.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
            }
            String text = t.toString();
            List<String> stops = new ArrayList<>();
            for (int s = rnd.nextInt(3); s > 0; s--) {
                StringBuilder stop = new StringBuilder();
                for (int i = 1 + rnd.nextInt(3); i > 0; i--) {
                    stop.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
                }
                stops.add(stop.toString());
            }
            List<String> pieces = new ArrayList<>();
            for (int i = 0; i < text.length(); ) {
                int len = Math.min(text.length() - i, rnd.nextInt(4));
                pieces.add(text.substring(i, i + len));
                i += len;
            }
            // as a server generates: after each piece, the earliest stop found in the text so far ends it
            int first = text.length();
            StringBuilder sofar = new StringBuilder();
            for (String p : pieces) {
                sofar.append(p);
                for (String s : stops) {
                    int at = sofar.indexOf(s);
                    if (at >= 0) {
                        first = Math.min(first, at);
                    }
                }
                if (first < text.length()) {
                    break;
                }
            }
            StopMatcher m = new StopMatcher(stops);
            String got = stream(m, pieces);
            String what = "text " + text.replace("\n", "\\n") + " stops " + stops + " pieces " + pieces;
            assertEquals(text.substring(0, first), got, what);
            assertEquals(first < text.length(), m.stopped(), what);
        }
    }
}

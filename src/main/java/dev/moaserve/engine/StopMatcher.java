package dev.moaserve.engine;

import java.util.List;

/**
 * Finds stop strings in generated text that arrives a token at a time. Text that could still be
 * the start of a stop string is held back, so a stop string split across tokens is never
 * streamed and never part of the output.
 */
public final class StopMatcher {
    private final List<String> stops;
    private final StringBuilder text = new StringBuilder();
    private int emitted;
    private boolean stopped;
    private String matched;

    public StopMatcher(List<String> stops) {
        this.stops = stops == null ? List.of() : stops;
    }

    /** Appends a token's text; returns the text that is now safe to emit (maybe empty). */
    public String append(String piece) {
        if (stopped) {
            return "";
        }
        text.append(piece);
        int cut = -1;
        for (String s : stops) {
            int at = text.indexOf(s, Math.max(0, emitted - s.length() + 1));
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
                matched = s;
            }
        }
        if (cut >= 0) {
            stopped = true;
            String out = text.substring(emitted, Math.max(emitted, cut));
            emitted = Math.max(emitted, cut);
            text.setLength(emitted);
            return out;
        }
        int safe = text.length() - heldBack();
        String out = text.substring(emitted, Math.max(emitted, safe));
        emitted = Math.max(emitted, safe);
        return out;
    }

    /**
     * Length of the longest suffix of the text that is a proper prefix of a stop string (only the
     * last few characters are read: no copy of the whole text per token).
     */
    private int heldBack() {
        int hold = 0;
        int n = text.length();
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, n - emitted); k > hold; k--) {
                if (endsWithPrefix(n, s, k)) {
                    hold = k;
                    break;
                }
            }
        }
        return hold;
    }

    /** Whether the text's last k characters are the first k of {@code s}. */
    private boolean endsWithPrefix(int n, String s, int k) {
        for (int i = 0; i < k; i++) {
            if (text.charAt(n - k + i) != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** The held-back tail, released when generation ends for another reason. */
    public String flush() {
        String out = stopped ? "" : text.substring(emitted);
        emitted = text.length();
        return out;
    }

    public boolean stopped() {
        return stopped;
    }

    /** The stop string that ended the text (null while none has). */
    public String matched() {
        return matched;
    }

    /** All text emitted so far. */
    public String text() {
        return text.substring(0, emitted);
    }
}

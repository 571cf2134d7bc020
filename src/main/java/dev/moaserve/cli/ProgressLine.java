package dev.moaserve.cli;

import dev.moaserve.train.Evaluation;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress of a long evaluation on stderr (stdout keeps only the result lines scripts parse):
 * {@code <what>: 12288/111360 tokens (11.0 %), 2345 tok/s, ETA 42 s}, at most every few seconds
 * and once when done.
 */
final class ProgressLine implements Evaluation.Progress {
    private static final long EVERY_NANOS = 5_000_000_000L;

    private final PrintStream err;
    private final String what;
    private final long start = System.nanoTime();
    private long lastPrint = start;

    ProgressLine(PrintStream err, String what) {
        this.err = err;
        this.what = what;
    }

    @Override
    public void tokensDone(long done, long total) {
        long now = System.nanoTime();
        if (done < total && now - lastPrint < EVERY_NANOS) {
            return;
        }
        lastPrint = now;
        double seconds = (now - start) / 1e9;
        double rate = seconds > 0 ? done / seconds : 0;
        String tail = done < total
                ? String.format(Locale.ROOT, ", ETA %s", rate > 0 ? duration((total - done) / rate) : "?")
                : String.format(Locale.ROOT, ", done in %s", duration(seconds));
        err.printf(Locale.ROOT, "%s: %d/%d tokens (%.1f %%), %.0f tok/s%s%n", what, done, total,
                100.0 * done / Math.max(1, total), rate, tail);
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s < 120 ? s + " s" : (s / 60) + " min " + (s % 60) + " s";
    }
}

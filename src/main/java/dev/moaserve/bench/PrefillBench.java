package dev.moaserve.bench;

import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.MoaModel;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * {@code bench --prefill}: the time to the first token's logits of a fresh prompt on the embedded
 * model, as the server computes it (its whole routed windows in one call of the step program, the
 * rest through one step), beside the step-per-window path it replaced, at 256, 512 and 1,000
 * tokens; best of several after a warm-up. One {@code prefill …} line per point. Set it beside
 * {@code ../shared/peer/run.sh} with {@code PROMPT=1000} (llama.cpp's prompt processing).
 */
final class PrefillBench {
    private PrefillBench() {}

    static int run(PrintStream out, boolean quick) {
        int reps = quick ? 3 : 8;
        out.printf(Locale.ROOT, "moa-serve prefill benchmark (%d cores, %s)%n", Runtime.getRuntime().availableProcessors(),
                quick ? "quick" : "full");
        try (MoaModel model = MoaModel.loadEmbedded(); IncrementalDecoder decoder = new IncrementalDecoder(model.weights())) {
            int w = model.config().routedWindowSize();
            Random rnd = new Random(1);
            out.printf(Locale.ROOT, "%n| prompt tokens | windows at once ms | tokens/s | window by window ms | tokens/s | speedup |%n"
                    + "|---|---|---|---|---|---|%n");
            for (int n : new int[] {256, 512, 1000}) {
                long[] prompt = new long[n];
                for (int i = 0; i < n; i++) {
                    prompt[i] = rnd.nextInt(model.config().numTokens());
                }
                double whole = best(reps, () -> asServed(decoder, prompt, w));
                double stepped = best(reps, () -> {
                    try (DecodeState s = decoder.newState()) {
                        decoder.prefill(s, prompt);
                    }
                });
                out.printf(Locale.ROOT, "| %d | %.1f | %.0f | %.1f | %.0f | %.2fx |%n", n, whole * 1e3, n / whole, stepped * 1e3,
                        n / stepped, stepped / whole);
                out.printf(Locale.ROOT, "prefill model=moa-shakespeare tokens=%d windows_at_once_ms=%.1f tokens_per_s=%.0f "
                        + "window_by_window_ms=%.1f window_by_window_tokens_per_s=%.0f%n", n, whole * 1e3, n / whole,
                        stepped * 1e3, n / stepped);
            }
        }
        return 0;
    }

    /** A fresh prompt's prefill as the server computes it: its whole routed windows in one call, the rest through one step. */
    static void asServed(IncrementalDecoder decoder, long[] prompt, int w) {
        int n = prompt.length;
        try (DecodeState s = decoder.newState()) {
            int at = (n - 1) / w * w;
            decoder.prefillWindows(s, Arrays.copyOf(prompt, at));
            decoder.prefill(s, Arrays.copyOfRange(prompt, at, n));
        }
    }

    /** Best of {@code reps} timed runs after one warm-up, seconds. */
    static double best(int reps, Runnable r) {
        r.run();
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            r.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return best;
    }
}

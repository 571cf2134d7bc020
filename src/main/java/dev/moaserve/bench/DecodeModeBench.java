package dev.moaserve.bench;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.MoaWeights;

import java.io.PrintStream;
import java.util.Locale;

/**
 * {@code bench --frozen}: exact (lazy) against frozen-prefix decoding, the embedded model and the
 * synthetic d512 at B = 1/8/32/64, alternated in one run, and frozen decoding with bfloat16
 * matmuls ({@code moa.dtype=bfloat16}). Frozen decoding computes one row per sequence per layer;
 * exact decoding revises the current routed window's rows whose routing changed. Prints one
 * {@code decode …} line per point, as {@code bench} does.
 */
final class DecodeModeBench {
    private DecodeModeBench() {}

    static int run(PrintStream out, boolean quick) {
        out.printf(Locale.ROOT, "moa-serve exact vs frozen decode benchmark (%d cores, %s)%n",
                Runtime.getRuntime().availableProcessors(), quick ? "quick" : "full");
        try (MoaModel embedded = MoaModel.loadEmbedded()) {
            sweep(out, "moa-shakespeare", embedded.weights(), quick);
        }
        try (NDManager m = Djl.newManager()) {
            MoaWeights d512 = Init.random(BenchCommand.cfg(256, 512, 8, 8, 64, 64, 64, 32, 64, 2, BenchCommand.SEQ), m, 1);
            sweep(out, "d512-L8-w64", d512, quick);
        }
        return 0;
    }

    private static void sweep(PrintStream out, String name, MoaWeights w, boolean quick) {
        boolean big = w.config().dim() >= 512;
        int steps = quick ? (big ? 6 : 24) : (big ? 32 : 96);
        int rounds = quick && big ? 1 : 2;
        for (DecodeMode mode : DecodeMode.values()) { // warm-up, not measured
            DecodePoints.measure(w, 8, big ? 4 : 100, IncrementalDecoder.Recompute.LAZY, quick, DataType.FLOAT32, mode);
        }
        DecodePoints.measure(w, 8, big ? 4 : 100, IncrementalDecoder.Recompute.LAZY, quick, DataType.BFLOAT16, DecodeMode.FROZEN);
        out.printf(Locale.ROOT, "%n## %s%n%n| batch | exact ms/step | exact tok/s | frozen ms/step | frozen tok/s | frozen ÷ exact "
                + "| frozen bf16 ms/step | frozen bf16 tok/s | rows/layer exact / frozen |%n|---|---|---|---|---|---|---|---|---|%n", name);
        for (int b : new int[] {1, 8, 32, 64}) {
            DecodePoints.Point exact = null;
            DecodePoints.Point frozen = null;
            DecodePoints.Point bf16 = null;
            for (int round = 0; round < rounds; round++) {
                exact = DecodePoints.Point.best(exact, DecodePoints.measure(w, b, steps, IncrementalDecoder.Recompute.LAZY,
                        quick, DataType.FLOAT32, DecodeMode.EXACT));
                frozen = DecodePoints.Point.best(frozen, DecodePoints.measure(w, b, steps, IncrementalDecoder.Recompute.LAZY,
                        quick, DataType.FLOAT32, DecodeMode.FROZEN));
                bf16 = DecodePoints.Point.best(bf16, DecodePoints.measure(w, b, steps, IncrementalDecoder.Recompute.LAZY,
                        quick, DataType.BFLOAT16, DecodeMode.FROZEN));
            }
            out.printf(Locale.ROOT, "| %d | %.2f | %.1f | %.2f | %.1f | %.2fx | %.2f | %.1f | %.1f / %.1f |%n", b, exact.ms(),
                    exact.tokensPerS(), frozen.ms(), frozen.tokensPerS(), exact.ms() / frozen.ms(), bf16.ms(), bf16.tokensPerS(),
                    exact.rowsPerLayer(), frozen.rowsPerLayer());
            for (DecodePoints.Point p : new DecodePoints.Point[] {exact, frozen, bf16}) {
                DecodePoints.printLine(out, name, b, p);
            }
        }
    }
}

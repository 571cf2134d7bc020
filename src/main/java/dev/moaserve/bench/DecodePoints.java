package dev.moaserve.bench;

import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.decode.SampleBatch;
import dev.moaserve.decode.StepStats;
import dev.moaserve.engine.BatchSampler;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaWeights;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * One decode measurement the benchmarks share: B staggered sequences after their prompts, steps
 * sampled greedily in the same call as the server steps, timed after a short warm-up, with what
 * the step did (rows, operations, transfers, syncs) and its useful FLOPs.
 */
final class DecodePoints {
    private DecodePoints() {}

    static void printLine(PrintStream out, String name, int batch, Point p) {
        out.printf(Locale.ROOT, "decode config=%s step=script mode=%s batch=%d ms_per_step=%.3f tokens_per_s=%.1f "
                        + "rows_per_step=%.2f ops_per_step=%.0f transfers_per_step=%.2f syncs_per_step=%.2f gflops=%.2f%n",
                name, p.mode, batch, p.ms, p.tokensPerS(), p.rowsPerLayer, p.ops, p.transfers, p.syncs,
                p.flopsPerStep / (p.ms / 1000) / 1e9);
    }

    /** One measured point: a batch's time per step and what the step did. */
    record Point(String mode, int batch, double ms, double rowsPerLayer, double ops, double transfers, double syncs,
                 double flopsPerStep, OpProfile.Counts programOps) {
        double tokensPerS() {
            return batch * 1000.0 / ms;
        }

        static Point best(Point a, Point b) {
            return a == null || b.ms < a.ms ? b : a;
        }
    }

    /**
     * Steps of B staggered sequences that start after prompts of about 150 tokens (quick: about
     * w + 8, enough for routed windows; MoA's step cost does not depend on the context length).
     */
    static Point measure(MoaWeights w, int batch, int steps, IncrementalDecoder.Recompute mode, boolean quick) {
        return measure(w, batch, steps, mode, quick, ai.djl.ndarray.types.DataType.FLOAT32);
    }

    /** {@link #measure} with the decoder's matmuls and state in {@code dtype}, on the weights' device. */
    static Point measure(MoaWeights w, int batch, int steps, IncrementalDecoder.Recompute mode, boolean quick,
                             ai.djl.ndarray.types.DataType dtype) {
        return measure(w, batch, steps, mode, quick, dtype, DecodeMode.EXACT);
    }

    /** {@link #measure} with every sequence decoded in {@code decodeMode}. */
    static Point measure(MoaWeights w, int batch, int steps, IncrementalDecoder.Recompute mode, boolean quick,
                             ai.djl.ndarray.types.DataType dtype, DecodeMode decodeMode) {
        return measure(w, batch, steps, mode, quick, dtype, decodeMode, 0);
    }

    /** {@link #measure}, then {@code profiled} more steps under libtorch's profiler: the program's operations ({@link OpProfile}). */
    static Point measure(MoaWeights w, int batch, int steps, IncrementalDecoder.Recompute mode, boolean quick,
                             ai.djl.ndarray.types.DataType dtype, DecodeMode decodeMode, int profiled) {
        ModelConfig c = w.config();
        Random rnd = new Random(3);
        int base = Math.max(1, Math.min(quick ? c.routedWindowSize() + 8 : 150,
                c.seqLen() - c.routedWindowSize() - steps - warmSteps(steps)));
        List<long[]> prompts = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            prompts.add(randomTokens(rnd, base + (b * 7) % c.routedWindowSize(), c.numTokens()));
        }
        return run(w, prompts, steps, mode, rnd, dtype, decodeMode, profiled);
    }

    private static int warmSteps(int steps) {
        return Math.max(2, Math.min(8, steps / 4));
    }

    /** Prefills the prompts, then times {@code steps} batched decode steps of random tokens after a short warm-up. */
    static Point run(MoaWeights w, List<long[]> prompts, int steps, IncrementalDecoder.Recompute mode, Random rnd) {
        return run(w, prompts, steps, mode, rnd, ai.djl.ndarray.types.DataType.FLOAT32, DecodeMode.EXACT, 0);
    }

    private static Point run(MoaWeights w, List<long[]> prompts, int steps, IncrementalDecoder.Recompute mode,
                                   Random rnd, ai.djl.ndarray.types.DataType dtype, DecodeMode decodeMode, int profiled) {
        ModelConfig c = w.config();
        int batch = prompts.size();
        List<DecodeState> states = new ArrayList<>();
        try (IncrementalDecoder dec = new IncrementalDecoder(w, batch, mode, dtype)) {
            for (int b = 0; b < batch; b++) {
                states.add(dec.newState(decodeMode));
            }
            dec.prefill(states, prompts);
            long[] toks = new long[batch];
            List<long[]> appended = new ArrayList<>(java.util.Collections.nCopies(batch, (long[]) null));
            List<Sampler> samplers = new ArrayList<>();
            long[] index = new long[batch];
            for (int b = 0; b < batch; b++) {
                samplers.add(new Sampler(SamplingParams.greedy(1), c.numTokens(), 0));
                index[b] = b;
            }
            int warm = warmSteps(steps);
            long t0 = 0;
            StepStats before = null;
            for (int i = 0; i < steps + warm; i++) {
                if (i == warm) {
                    t0 = System.nanoTime();
                    before = dec.stats().snapshot();
                }
                for (int b = 0; b < batch; b++) {
                    toks[b] = rnd.nextInt(c.numTokens());
                    appended.set(b, new long[] {toks[b]});
                }
                // greedy sampling in the same call, as the server steps (the next input stays random)
                SampleBatch sampling = BatchSampler.prepare(samplers, index, c.numTokens());
                BatchSampler.finish(dec.stepAndSample(states, appended, sampling), samplers, sampling, c.numTokens());
            }
            double ms = (System.nanoTime() - t0) / 1e6 / steps;
            StepStats d = dec.stats().since(before);
            OpProfile.Counts programOps = profiled <= 0 ? null : OpProfile.profile(() -> {
                for (int b = 0; b < batch; b++) {
                    appended.set(b, new long[] {rnd.nextInt(c.numTokens())});
                }
                SampleBatch sampling = BatchSampler.prepare(samplers, index, c.numTokens());
                BatchSampler.finish(dec.stepAndSample(states, appended, sampling), samplers, sampling, c.numTokens());
            }, profiled);
            double rows = (double) d.rows() / steps / c.depth();
            double flops = rows * c.depth() * rowFlops(c) + batch * 2.0 * c.dim() * c.numTokens();
            String label = (decodeMode == DecodeMode.FROZEN ? "frozen" : mode.name().toLowerCase(Locale.ROOT))
                    + (dtype == ai.djl.ndarray.types.DataType.BFLOAT16 ? "-bf16" : "");
            return new Point(label, batch, ms, rows, (double) d.ops() / steps,
                    (double) d.transfers() / steps, (double) d.syncs() / steps, flops, programOps);
        } finally {
            states.forEach(DecodeState::close);
        }
    }

    /**
     * Useful FLOPs of one window row at one layer: local q/k/v/out projections and attention over
     * its W + 1 keys, every expert's routed q/out projections and attention over 1 + k_kv keys
     * (the engine computes all experts for every row and keeps the selected ones), feed-forward.
     */
    static double rowFlops(ModelConfig c) {
        double d = c.dim();
        double inner = c.inner();
        double g = c.numExperts();
        return 2 * d * 3 * inner + 2 * inner * d
                + 2 * 2 * (c.localAttnWindowSize() + 1) * inner
                + g * (2 * d * inner + 2 * inner * d + 2 * 2 * (1 + c.numRoutedKeyValues()) * inner)
                + 2 * 2 * d * c.ffDim();
    }

    static long[] randomTokens(Random rnd, int n, int vocab) {
        long[] t = new long[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(vocab);
        }
        return t;
    }
}

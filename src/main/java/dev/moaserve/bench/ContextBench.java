package dev.moaserve.bench;

import ai.djl.ndarray.NDManager;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.decode.SampleBatch;
import dev.moaserve.engine.BatchSampler;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.MoaWeights;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * {@code bench --context 1024,8192,32768 [--batches 1,8]}: exact decoding's tokens/s after a
 * prompt of N tokens, for a d512 model designed like the shipped one (k_q = w: every query routed,
 * so a step computes one row per sequence and never recomputes the window; random weights) and for
 * the embedded model at the contexts it holds. One line per point:
 * {@code decode_context config=… mode=exact context=N batch=B tokens_per_s=X ms_per_step=… state_bytes=…}.
 * Set beside {@code ../shared/peer/run.sh} with {@code CONFIGS=d512-long PROMPT=N} (llama.cpp on a
 * dense model of the same shape, whose per-token cost grows with the context it attends to).
 *
 * <p>The prompt is fed once per context as the server feeds it (whole windows at once, the rest
 * through a step); each batch's sequences fork that state (the cost of a step does not depend on
 * what the state holds, and a fork saves B prefills of up to 32,768 tokens).
 */
final class ContextBench {
    /** The d512 bench shape (as the peer's {@code d512-long}) with the shipped model's windows and routing. */
    static ModelConfig d512(int seqLen) {
        return ModelConfig.builder().vocab(256).dim(512).depth(8).seqLen(seqLen).localWindow(64).routedWindow(32)
                .routedQueries(32).routedKeyValues(32).experts(2).dimHead(64).heads(8).ffMult(4).build();
    }

    private ContextBench() {}

    static int run(PrintStream out, int[] contexts, int[] batches, boolean quick) {
        Djl.inferenceThread();
        int steps = quick ? 24 : 64;
        int warm = 4;
        int longest = Arrays.stream(contexts).max().orElse(1024);
        out.printf(Locale.ROOT, "moa-serve decode cost against context (%d cores, %s)%n",
                Runtime.getRuntime().availableProcessors(), quick ? "quick" : "full");
        try (NDManager m = Djl.newManager()) {
            MoaWeights w = Init.random(d512(longest + steps + warm + 64), m, 1);
            for (int context : contexts) {
                sweep(out, "d512-L8-w32-kq32", w, context, batches, steps, warm);
            }
        }
        try (MoaModel embedded = MoaModel.loadEmbedded()) {
            int cap = embedded.config().seqLen() - steps - warm - 1;
            for (int context : new int[] {128, 512, cap}) {
                sweep(out, "moa-shakespeare", embedded.weights(), context, batches, steps, warm);
            }
        }
        return 0;
    }

    /**
     * One context, every batch size: the prompt is fed once, as the server feeds it (whole windows
     * at once, the rest through a step), and each batch forks that state B times.
     */
    private static void sweep(PrintStream out, String name, MoaWeights w, int context, int[] batches, int steps, int warm) {
        ModelConfig c = w.config();
        Random rnd = new Random(context);
        long[] prompt = new long[context];
        for (int i = 0; i < context; i++) {
            prompt[i] = rnd.nextInt(c.numTokens());
        }
        int most = Arrays.stream(batches).max().orElse(1);
        try (IncrementalDecoder dec = new IncrementalDecoder(w, most + 1, IncrementalDecoder.Recompute.LAZY);
             DecodeState base = dec.newState()) {
            int whole = (context - 1) / c.routedWindowSize() * c.routedWindowSize();
            long t0 = System.nanoTime();
            if (whole > 0) {
                dec.prefillWindows(base, Arrays.copyOf(prompt, whole));
            }
            dec.prefill(base, Arrays.copyOfRange(prompt, whole, context));
            double prefillMs = (System.nanoTime() - t0) / 1e6;
            out.printf(Locale.ROOT, "prefill_context config=%s tokens=%d ms=%.1f tokens_per_s=%.0f (one run, no warm-up)%n",
                    name, context, prefillMs, context * 1000.0 / prefillMs);
            for (int batch : batches) {
                double ms = steps(dec, base, batch, steps, warm, rnd);
                out.printf(Locale.ROOT, "decode_context config=%s mode=exact context=%d batch=%d tokens_per_s=%.1f ms_per_step=%.3f "
                        + "state_bytes=%d%n", name, context, batch, batch * 1000.0 / ms, ms, DecodeState.bytesFor(c));
                if (dec.matmulPartsAt(batch)) {
                    compareParts(out, name, dec, base, context, batch, steps, warm, rnd);
                }
            }
        }
    }

    /**
     * The step in matmul parts (one per intra-op thread, the default where it applies) against whole
     * weights, alternated: {@code matmul_parts config=… context=N batch=B parts_ms=… whole_ms=… speedup=…}
     * (medians of 3 rounds each).
     */
    private static void compareParts(PrintStream out, String name, IncrementalDecoder dec, DecodeState base, int context, int batch,
                                     int steps, int warm, Random rnd) {
        double[] parts = new double[3];
        double[] whole = new double[3];
        try {
            for (int r = 0; r < parts.length; r++) {
                dec.useMatmulParts(false);
                whole[r] = steps(dec, base, batch, steps, warm, rnd);
                dec.useMatmulParts(true);
                parts[r] = steps(dec, base, batch, steps, warm, rnd);
            }
        } finally {
            dec.useMatmulParts(true);
        }
        Arrays.sort(parts);
        Arrays.sort(whole);
        out.printf(Locale.ROOT, "matmul_parts config=%s context=%d batch=%d parts_ms=%.3f whole_ms=%.3f speedup=%.2f%n",
                name, context, batch, parts[1], whole[1], whole[1] / parts[1]);
    }

    /** Milliseconds per batched step of {@code batch} forks of {@code base}, greedy sampling in the same call as the server steps. */
    private static double steps(IncrementalDecoder dec, DecodeState base, int batch, int steps, int warm, Random rnd) {
        int v = dec.config().numTokens();
        List<DecodeState> states = new ArrayList<>();
        try {
            List<Sampler> samplers = new ArrayList<>();
            long[] index = new long[batch];
            for (int b = 0; b < batch; b++) {
                states.add(dec.fork(base));
                samplers.add(new Sampler(SamplingParams.greedy(1), v, 0));
                index[b] = b;
            }
            List<long[]> appended = new ArrayList<>(Collections.nCopies(batch, (long[]) null));
            long t0 = 0;
            for (int i = 0; i < steps + warm; i++) {
                if (i == warm) {
                    t0 = System.nanoTime();
                }
                for (int b = 0; b < batch; b++) {
                    appended.set(b, new long[] {rnd.nextInt(v)});
                }
                SampleBatch sampling = BatchSampler.prepare(samplers, index, v);
                BatchSampler.finish(dec.stepAndSample(states, appended, sampling), samplers, sampling, v);
            }
            return (System.nanoTime() - t0) / 1e6 / steps;
        } finally {
            states.forEach(DecodeState::close);
        }
    }
}

package dev.moaserve.decode;

import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.Numerics;
import dev.moaserve.model.ReferenceVectors;

import ai.djl.ndarray.NDManager;
import dev.moaserve.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IncrementalDecodingTest {
    private static final double TOL = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "wide"})
    void incrementalDecodingReproducesReferenceGreedy(String name) {
        Path dir = SharedData.require("reference/" + name);
        ReferenceVectors ref = ReferenceVectors.load(dir.resolve("vectors.safetensors"));
        try (MoaModel model = MoaModel.load(dir)) {
            IncrementalDecoder dec = new IncrementalDecoder(model.weights());
            int v = model.config().numTokens();
            try (DecodeState st = dec.newState()) {
                float[] logits = dec.prefill(st, ref.prompt());
                double worst = 0;
                for (int t = 0; t < ref.greedy().length; t++) {
                    worst = Math.max(worst, Numerics.maxAbsDiff(logits, ref.greedyLogits(), t * v));
                    long next = Numerics.argmax(logits, 0, v);
                    assertEquals(ref.greedy()[t], next, "greedy token " + t);
                    logits = dec.decode(List.of(st), new long[] {next})[0];
                }
                System.out.printf("%s: incremental max_abs_greedy_logits=%.3g%n", name, worst);
                assertTrue(worst <= TOL, "max abs " + worst);
            }
        }
    }

    /**
     * Random configs, both recompute modes: every incremental step equals the full forward on the
     * prefix. Each trial forces one of k_q &lt; w (routing can change earlier rows), k_q = w and
     * k_q &gt; w (it never can).
     */
    @ParameterizedTest
    @ValueSource(strings = {"LAZY", "ALL"})
    void everyStepEqualsFullForwardOnRandomConfigs(String mode) {
        Random rnd = new Random(42);
        for (int trial = 0; trial < 6; trial++) {
            int w = 2 + rnd.nextInt(6);
            int bigW = 1 + rnd.nextInt(9);
            int heads = 1 + rnd.nextInt(3);
            int dh = 2 * (1 + rnd.nextInt(4));
            int experts = 1 + rnd.nextInt(3);
            int kq = switch (trial % 3) {
                case 0 -> 1 + rnd.nextInt(w - 1);   // k_q < w
                case 1 -> w;                        // k_q = w
                default -> w + 1 + rnd.nextInt(2);  // k_q > w
            };
            int kkv = 1 + rnd.nextInt(3 * w);       // includes k_kv larger than the past
            int len = 5 * w + rnd.nextInt(w);       // crosses several window boundaries
            ModelConfig c = ModelConfig.builder().vocab(17).dim(8 * (1 + rnd.nextInt(3))).depth(1 + rnd.nextInt(3))
                    .seqLen(len + 2).localWindow(bigW).routedWindow(w).routedQueries(kq).routedKeyValues(kkv)
                    .experts(experts).dimHead(dh).heads(heads).ffMult(2).cosineRouting(rnd.nextBoolean()).build();
            checkAgainstFullForward(c, 1000 + trial, len, rnd, IncrementalDecoder.Recompute.valueOf(mode));
        }
    }

    private static void checkAgainstFullForward(ModelConfig c, long seed, int len, Random rnd,
                                                IncrementalDecoder.Recompute mode) {
        try (NDManager m = Djl.newManager()) {
            MoaModel model = MoaModel.of("random", Init.random(c, m, seed, 0.1f), null, null);
            IncrementalDecoder dec = new IncrementalDecoder(model.weights(), 2, mode);
            long[] seq = new long[len];
            for (int i = 0; i < len; i++) {
                seq[i] = rnd.nextInt(c.numTokens());
            }
            int promptLen = 1 + rnd.nextInt(2 * c.routedWindowSize());
            try (DecodeState st = dec.newState()) {
                float[] logits = dec.prefill(st, Arrays.copyOf(seq, promptLen));
                for (int t = promptLen; ; t++) {
                    float[] full = model.nextTokenLogits(Arrays.copyOf(seq, t));
                    double diff = Numerics.maxAbsDiff(full, logits, 0);
                    assertTrue(diff <= TOL, c + " prefix " + t + ": max abs " + diff);
                    if (t == len) {
                        break;
                    }
                    logits = dec.decode(List.of(st), new long[] {seq[t]})[0];
                }
            }
        }
    }

    /** A batch of sequences at different lengths and window offsets equals each sequence alone. */
    @Test
    void mixedBatchEqualsEachSequenceAlone() {
        batchEqualsEachSequenceAlone(ModelConfig.builder().vocab(23).dim(32).depth(2).seqLen(80).localWindow(6).routedWindow(5)
                .routedQueries(2).routedKeyValues(7).experts(3).dimHead(8).heads(2).ffMult(2).build(), new int[] {1, 4, 5, 9, 13, 22});
    }

    /**
     * Every query routed (k_q = w, as the shipped model): every step of the batch has a row per
     * slot, so from {@link ScriptedStep#MATMUL_ATTENTION_FROM} rows its attention runs as matmuls,
     * while a sequence alone goes through the fused kernel; both give the same logits.
     */
    @Test
    void batchOfRowPerSlotStepsEqualsEachSequenceAlone() {
        batchEqualsEachSequenceAlone(ModelConfig.builder().vocab(23).dim(32).depth(2).seqLen(80).localWindow(6).routedWindow(4)
                .routedQueries(4).routedKeyValues(3).experts(2).dimHead(8).heads(2).ffMult(2).build(),
                new int[] {1, 2, 3, 4, 5, 7, 9, 12, 13, 22});
    }

    /**
     * Steps that multiply by the weights in parts of their output columns (one per intra-op
     * thread; a few rows of a model whose weights stream from memory) give the logits of whole
     * weights: every step of the batch in parts, from 10 sequences down to one (and prefill tails
     * of several rows a slot), each sequence alone with whole weights.
     */
    @Test
    void stepsInMatmulPartsEqualWholeWeights() {
        ModelConfig c = ModelConfig.builder().vocab(23).dim(32).depth(2).seqLen(80).localWindow(6).routedWindow(4)
                .routedQueries(4).routedKeyValues(3).experts(2).dimHead(8).heads(2).ffMult(2).build();
        try (NDManager m = Djl.newManager()) {
            MoaWeights w = Init.random(c, m, 3, 0.1f);
            try (IncrementalDecoder parts = new IncrementalDecoder(w); IncrementalDecoder whole = new IncrementalDecoder(w)) {
                parts.matmulParts(2, 1); // two parts on any machine (their arithmetic does not depend on the threads)
                whole.useMatmulParts(false);
                assertTrue(parts.matmulPartsAt(1) && !whole.matmulPartsAt(10));
                batchEqualsEachSequenceAlone(c, new int[] {1, 2, 3, 4, 5, 7, 9, 12, 13, 22}, new Random(7), parts, whole);
            }
        }
    }

    /**
     * The batch decodes in one decoder (its sequences in the leading slots, one leaving every 6
     * steps: closed, so the rest stay packed) and each sequence alone in another.
     */
    private static void batchEqualsEachSequenceAlone(ModelConfig c, int[] prompt) {
        Random rnd = new Random(7);
        try (NDManager m = Djl.newManager()) {
            MoaWeights w = Init.random(c, m, 3, 0.1f);
            try (IncrementalDecoder dec = new IncrementalDecoder(w); IncrementalDecoder single = new IncrementalDecoder(w)) {
                batchEqualsEachSequenceAlone(c, prompt, rnd, dec, single);
            }
        }
    }

    private static void batchEqualsEachSequenceAlone(ModelConfig c, int[] prompt, Random rnd, IncrementalDecoder dec,
                                                     IncrementalDecoder single) {
        int n = prompt.length;
        long[][] seqs = new long[n][c.seqLen()];
        for (long[] s : seqs) {
            for (int i = 0; i < s.length; i++) {
                s[i] = rnd.nextInt(c.numTokens());
            }
        }
        List<DecodeState> batch = new ArrayList<>();
        List<DecodeState> alone = new ArrayList<>();
        List<long[]> prompts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            batch.add(dec.newState());
            alone.add(single.newState());
            prompts.add(Arrays.copyOf(seqs[i], prompt[i]));
        }
        float[][] b = dec.prefill(batch, prompts);
        for (int i = 0; i < n; i++) {
            assertTrue(Numerics.maxAbsDiff(single.prefill(alone.get(i), prompts.get(i)), b[i], 0) <= 1e-5);
        }
        // sequences leave the batch (i < step/6) and the rest keep decoding together
        for (int step = 0; step < 6 * n - 6; step++) {
            List<DecodeState> active = new ArrayList<>();
            List<Integer> idx = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (i >= step / 6) {
                    active.add(batch.get(i));
                    idx.add(i);
                } else {
                    batch.get(i).close();
                }
            }
            long[] toks = new long[active.size()];
            for (int j = 0; j < toks.length; j++) {
                toks[j] = seqs[idx.get(j)][prompt[idx.get(j)] + step];
            }
            float[][] got = dec.decode(active, toks);
            for (int j = 0; j < toks.length; j++) {
                float[] one = single.decode(List.of(alone.get(idx.get(j))), new long[] {toks[j]})[0];
                double diff = Numerics.maxAbsDiff(one, got[j], 0);
                assertTrue(diff <= 1e-5, "step " + step + " seq " + idx.get(j) + ": " + diff);
            }
        }
        batch.forEach(DecodeState::close);
        alone.forEach(DecodeState::close);
    }

    /**
     * The skip rules, checked against forced full-window recompute: a lazy and an ALL decoder
     * run the same staggered batch (sequences joining mid-window and leaving) in lockstep; every
     * step's logits agree, and the lazy one computed fewer rows. Small k_q makes routing changes
     * (and so non-trivial lazy plans) frequent.
     */
    @Test
    void lazyStepsEqualFullWindowRecompute() {
        ModelConfig c = ModelConfig.builder().vocab(29).dim(32).depth(3).seqLen(120).localWindow(5).routedWindow(8)
                .routedQueries(3).routedKeyValues(6).experts(2).dimHead(8).heads(2).ffMult(2).build();
        Random rnd = new Random(11);
        try (NDManager m = Djl.newManager()) {
            MoaWeights weights = Init.random(c, m, 9, 0.1f);
            try (IncrementalDecoder lazy = new IncrementalDecoder(weights, 4, IncrementalDecoder.Recompute.LAZY);
                 IncrementalDecoder all = new IncrementalDecoder(weights, 4, IncrementalDecoder.Recompute.ALL)) {
                List<DecodeState[]> running = new ArrayList<>();
                double worst = 0;
                for (int step = 0; step < 160; step++) {
                    if (step % 9 == 0 && running.size() < 7) {
                        // a new sequence joins with a prompt that ends mid-window
                        long[] prompt = tokens(rnd, 1 + rnd.nextInt(13), c.numTokens());
                        DecodeState[] pair = {lazy.newState(), all.newState()};
                        worst = Math.max(worst, Numerics.maxAbsDiff(lazy.prefill(pair[0], prompt),
                                all.prefill(pair[1], prompt), 0));
                        running.add(pair);
                    }
                    if (step % 23 == 22 && !running.isEmpty()) {
                        DecodeState[] leaving = running.remove(rnd.nextInt(running.size()));
                        leaving[0].close();
                        leaving[1].close();
                    }
                    running.removeIf(p -> {
                        if (p[0].length() >= c.seqLen()) {
                            p[0].close();
                            p[1].close();
                            return true;
                        }
                        return false;
                    });
                    if (running.isEmpty()) {
                        continue;
                    }
                    List<DecodeState> a = new ArrayList<>();
                    List<DecodeState> b = new ArrayList<>();
                    long[] next = tokens(rnd, running.size(), c.numTokens());
                    for (DecodeState[] p : running) {
                        a.add(p[0]);
                        b.add(p[1]);
                    }
                    float[][] x = lazy.decode(a, next);
                    float[][] y = all.decode(b, next);
                    for (int i = 0; i < x.length; i++) {
                        worst = Math.max(worst, Numerics.maxAbsDiff(x[i], y[i], 0));
                    }
                }
                System.out.printf("lazy vs all: max abs %.3g, rows %d vs %d%n", worst, lazy.stats().rows(),
                        all.stats().rows());
                assertTrue(worst <= 1e-5, "lazy differs from full-window recompute by " + worst);
                assertTrue(lazy.stats().rows() < all.stats().rows(), "lazy recompute computed no fewer rows");
            }
        }
    }

    private static long[] tokens(Random rnd, int n, int vocab) {
        long[] t = new long[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(vocab);
        }
        return t;
    }

    @Test
    void stateSizeDoesNotGrowWithLength() {
        ModelConfig c = ModelConfig.builder().vocab(11).dim(16).depth(2).seqLen(400).localWindow(4).routedWindow(4)
                .routedQueries(2).routedKeyValues(3).experts(2).dimHead(4).heads(2).ffMult(2).build();
        try (NDManager m = Djl.newManager()) {
            IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 1));
            try (DecodeState st = dec.newState()) {
                dec.prefill(st, new long[] {1, 2, 3});
                long early = st.bytes();
                for (int i = 0; i < 300; i++) {
                    dec.decode(List.of(st), new long[] {i % 11});
                }
                assertEquals(early, st.bytes());
                assertEquals(DecodeState.bytesFor(c), st.bytes());
            }
        }
    }
}

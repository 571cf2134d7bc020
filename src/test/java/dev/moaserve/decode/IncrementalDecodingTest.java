package dev.moaserve.decode;

import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;
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

    /** Random configs: every incremental step equals the full forward on the prefix. */
    @Test
    void everyStepEqualsFullForwardOnRandomConfigs() {
        Random rnd = new Random(42);
        for (int trial = 0; trial < 6; trial++) {
            int w = 2 + rnd.nextInt(6);
            int bigW = 1 + rnd.nextInt(9);
            int heads = 1 + rnd.nextInt(3);
            int dh = 2 * (1 + rnd.nextInt(4));
            int experts = 1 + rnd.nextInt(3);
            int kq = 1 + rnd.nextInt(w + 2);        // includes kq ≥ w: every query routed
            int kkv = 1 + rnd.nextInt(3 * w);       // includes k_kv larger than the past
            int len = 5 * w + rnd.nextInt(w);       // crosses several window boundaries
            ModelConfig c = new ModelConfig(17, 8 * (1 + rnd.nextInt(3)), 1 + rnd.nextInt(3), len + 2, bigW, w, kq, kkv,
                    experts, dh, heads, 2, rnd.nextBoolean(), 1.0, 20, 0.03, 4, 0.7, 8);
            checkAgainstFullForward(c, 1000 + trial, len, rnd);
        }
    }

    private static void checkAgainstFullForward(ModelConfig c, long seed, int len, Random rnd) {
        try (NDManager m = Djl.newManager()) {
            MoaModel model = MoaModel.of("random", Init.random(c, m, seed, 0.1f), null, null);
            IncrementalDecoder dec = new IncrementalDecoder(model.weights());
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
        ModelConfig c = new ModelConfig(23, 32, 2, 80, 6, 5, 2, 7, 3, 8, 2, 2, true, 1.0, 20, 0.03, 4, 0.7, 8);
        Random rnd = new Random(7);
        try (NDManager m = Djl.newManager()) {
            IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 3, 0.1f));
            int n = 6;
            long[][] seqs = new long[n][60];
            for (long[] s : seqs) {
                for (int i = 0; i < s.length; i++) {
                    s[i] = rnd.nextInt(c.numTokens());
                }
            }
            int[] prompt = {1, 4, 5, 9, 13, 22};
            List<DecodeState> batch = new ArrayList<>();
            List<DecodeState> alone = new ArrayList<>();
            List<long[]> prompts = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                batch.add(dec.newState());
                alone.add(dec.newState());
                prompts.add(Arrays.copyOf(seqs[i], prompt[i]));
            }
            float[][] b = dec.prefill(batch, prompts);
            for (int i = 0; i < n; i++) {
                assertTrue(Numerics.maxAbsDiff(dec.prefill(alone.get(i), prompts.get(i)), b[i], 0) <= 1e-5);
            }
            // sequences leave the batch (i < step/6) and the rest keep decoding together
            for (int step = 0; step < 30; step++) {
                List<DecodeState> active = new ArrayList<>();
                List<Integer> idx = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    if (i >= step / 6) {
                        active.add(batch.get(i));
                        idx.add(i);
                    }
                }
                long[] toks = new long[active.size()];
                for (int j = 0; j < toks.length; j++) {
                    toks[j] = seqs[idx.get(j)][prompt[idx.get(j)] + step];
                }
                float[][] got = dec.decode(active, toks);
                for (int j = 0; j < toks.length; j++) {
                    float[] single = dec.decode(List.of(alone.get(idx.get(j))), new long[] {toks[j]})[0];
                    double diff = Numerics.maxAbsDiff(single, got[j], 0);
                    assertTrue(diff <= 1e-5, "step " + step + " seq " + idx.get(j) + ": " + diff);
                }
            }
            batch.forEach(DecodeState::close);
            alone.forEach(DecodeState::close);
        }
    }

    @Test
    void stateSizeDoesNotGrowWithLength() {
        ModelConfig c = new ModelConfig(11, 16, 2, 400, 4, 4, 2, 3, 2, 4, 2, 2, true, 1.0, 20, 0.03, 4, 0.7, 8);
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

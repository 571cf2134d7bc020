package dev.moaserve.decode;

import dev.moaserve.model.DecodeMode;
import ai.djl.ndarray.NDManager;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.Numerics;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Frozen-prefix decoding ({@link DecodeMode#FROZEN}): every position computed once, on arrival,
 * with the routing it has then; never revised.
 */
class FrozenDecodeTest {
    private static final double TOL = 1e-5;

    private static ModelConfig config(int depth, int w, int kq) {
        return ModelConfig.builder().vocab(19).dim(16).depth(depth).seqLen(200).localWindow(6).routedWindow(w)
                .routedQueries(kq).routedKeyValues(5).experts(2).dimHead(4).heads(2).ffMult(2).build();
    }

    private static long[] tokens(Random rnd, int n, int v) {
        long[] t = new long[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(v);
        }
        return t;
    }

    /** Largest |frozen − exact| over every step of one sequence decoded both ways in lockstep. */
    private static double frozenVersusExact(ModelConfig c, long seed) {
        Random rnd = new Random(seed);
        long[] seq = tokens(rnd, 5 * c.routedWindowSize() + 3, c.numTokens());
        try (NDManager m = Djl.newManager();
             IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, seed, 0.3f))) {
            DecodeState exact = dec.newState(DecodeMode.EXACT);
            DecodeState frozen = dec.newState(DecodeMode.FROZEN);
            double worst = 0;
            for (long t : seq) {
                float[][] both = dec.decode(List.of(exact, frozen), new long[] {t, t});
                worst = Math.max(worst, Numerics.maxAbsDiff(both[0], both[1], 0));
            }
            return worst;
        }
    }

    @Test
    void frozenEqualsExactWhereNoRevisedRowIsEverRead() {
        // every query routed (k_q >= w): routing never changes, nothing is revised
        double kqIsW = frozenVersusExact(config(3, 6, 6), 1);
        // one layer: revised rows would only feed later layers, and there are none
        double oneLayer = frozenVersusExact(config(1, 6, 2), 2);
        System.out.printf("frozen vs exact: k_q = w %.3g, one layer %.3g%n", kqIsW, oneLayer);
        assertTrue(kqIsW <= TOL, "k_q = w: " + kqIsW);
        assertTrue(oneLayer <= TOL, "one layer: " + oneLayer);
    }

    @Test
    void frozenIsAnApproximationWhenRoutingCanChange() {
        double d = frozenVersusExact(config(3, 6, 2), 3);
        System.out.printf("frozen vs exact, k_q < w: max abs %.3g%n", d);
        assertTrue(d > 1e-3, "frozen decoding revised nothing, yet equals exact decoding: " + d);
    }

    @Test
    void aFrozenPromptFedInChunksEqualsOneTokenAtATime() {
        ModelConfig c = config(3, 6, 2);
        Random rnd = new Random(4);
        long[] prompt = tokens(rnd, 4 * c.routedWindowSize() + 2, c.numTokens());
        try (NDManager m = Djl.newManager();
             IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 4, 0.3f))) {
            DecodeState chunked = dec.newState(DecodeMode.FROZEN);
            DecodeState single = dec.newState(DecodeMode.FROZEN);
            float[] a = dec.prefill(chunked, prompt);
            float[] b = null;
            for (long t : prompt) {
                b = dec.decode(List.of(single), new long[] {t})[0];
            }
            assertTrue(Numerics.maxAbsDiff(a, b, 0) <= TOL, "after the prompt");
            for (int i = 0; i < 2 * c.routedWindowSize(); i++) {
                float[][] next = dec.decode(List.of(chunked, single), new long[] {i % 7, i % 7});
                assertTrue(Numerics.maxAbsDiff(next[0], next[1], 0) <= TOL, "step " + i);
            }
        }
    }

    @Test
    void aFrozenStepComputesOneRowPerSequencePerLayerAndNeverWaits() {
        ModelConfig c = config(3, 6, 2);
        Random rnd = new Random(5);
        int batch = 8;
        try (NDManager m = Djl.newManager();
             IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 5, 0.3f), batch, IncrementalDecoder.Recompute.LAZY)) {
            List<DecodeState> states = new ArrayList<>();
            List<long[]> prompts = new ArrayList<>();
            for (int b = 0; b < batch; b++) {
                states.add(dec.newState(DecodeMode.FROZEN));
                prompts.add(tokens(rnd, 2 * c.routedWindowSize() + 3 + b % 3, c.numTokens())); // past k_q in window >= 1
            }
            dec.prefill(states, prompts);
            for (int step = 0; step < 10; step++) {
                StepStats before = dec.stats().snapshot();
                dec.decode(states, tokens(rnd, batch, c.numTokens()));
                StepStats d = dec.stats().since(before);
                assertEquals((long) batch * c.depth(), d.rows(), "step " + step + ": rows over all layers");
                assertEquals(0, d.syncs(), "step " + step + ": the plan is the host's");
            }
        }
    }

    /**
     * Alone, a frozen sequence's steps route only their new rows, ranked against the logits its
     * window's earlier rows kept on arrival; beside an exact sequence the step recomputes the
     * whole window's routing logits and ranks every row. Both must give the same, every step.
     */
    @Test
    void aFrozenSequenceStepsTheSameAloneAndBesideAnExactOne() {
        ModelConfig c = config(3, 6, 2);
        Random rnd = new Random(7);
        long[] seq = tokens(rnd, 5 * c.routedWindowSize() + 3, c.numTokens());
        try (NDManager m = Djl.newManager()) {
            MoaWeights w = Init.random(c, m, 7, 0.3f);
            try (IncrementalDecoder mixed = new IncrementalDecoder(w, 2, IncrementalDecoder.Recompute.LAZY);
                 IncrementalDecoder alone = new IncrementalDecoder(w, 1, IncrementalDecoder.Recompute.LAZY);
                 DecodeState exact = mixed.newState(DecodeMode.EXACT);
                 DecodeState beside = mixed.newState(DecodeMode.FROZEN);
                 DecodeState single = alone.newState(DecodeMode.FROZEN)) {
                double worst = 0;
                for (long t : seq) {
                    float[] withExact = mixed.decode(List.of(exact, beside), new long[] {t, t})[1];
                    worst = Math.max(worst, Numerics.maxAbsDiff(withExact, alone.decode(List.of(single), new long[] {t})[0], 0));
                }
                System.out.printf("frozen alone vs beside an exact sequence: max abs %.3g%n", worst);
                assertTrue(worst <= TOL, "frozen alone vs beside an exact sequence: " + worst);
            }
        }
    }

    @Test
    void frozenAndExactSequencesShareABatchAsIfAlone() {
        ModelConfig c = config(2, 5, 2);
        Random rnd = new Random(6);
        try (NDManager m = Djl.newManager()) {
            MoaWeights w = Init.random(c, m, 6, 0.3f);
            List<long[]> seqs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                seqs.add(tokens(rnd, 3 * c.routedWindowSize() + i, c.numTokens()));
            }
            DecodeMode[] modes = {DecodeMode.FROZEN, DecodeMode.EXACT, DecodeMode.FROZEN, DecodeMode.EXACT};
            try (IncrementalDecoder together = new IncrementalDecoder(w, 4, IncrementalDecoder.Recompute.LAZY);
                 IncrementalDecoder alone = new IncrementalDecoder(w, 1, IncrementalDecoder.Recompute.LAZY)) {
                List<DecodeState> states = new ArrayList<>();
                for (DecodeMode mode : modes) {
                    states.add(together.newState(mode));
                }
                float[][] batched = together.prefill(states, seqs);
                for (int i = 0; i < seqs.size(); i++) {
                    try (DecodeState s = alone.newState(modes[i])) {
                        float[] single = alone.prefill(s, seqs.get(i));
                        assertTrue(Numerics.maxAbsDiff(batched[i], single, 0) <= TOL, "sequence " + i + " (" + modes[i] + ")");
                    }
                }
                assertEquals(Arrays.asList(modes), states.stream().map(DecodeState::mode).toList());
            }
        }
    }
}

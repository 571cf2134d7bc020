package dev.moaserve.decode;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.model.Djl;
import dev.moaserve.model.FullForward;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.Ops;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The step program's full forward of right-padded rows ({@code hidden}, what embeddings run)
 * equals the definition: each row's real positions match {@link FullForward} on that row alone,
 * then the final norm; for models that route every query (k_q = w, the shipped one) and for
 * models that choose (k_q &lt; w, where padding must not compete for a window's query slots),
 * for rows shorter than one window, than the local window, and many windows long.
 */
class ScriptedHiddenTest {
    private static final double TOL = 2e-5;

    @Test
    void paddedRowsEqualTheFullForward() {
        Djl.inferenceThread();
        try (NDManager m = Djl.newManager()) {
            // (k_q, k_kv): every query routed, a choice of queries, and more kept keys than a window holds
            for (int[] k : new int[][] {{8, 5}, {3, 5}, {8, 13}}) {
                ModelConfig c = ModelConfig.builder().vocab(19).dim(16).depth(2).seqLen(200).localWindow(6).routedWindow(8)
                        .routedQueries(k[0]).routedKeyValues(k[1]).experts(2).dimHead(4).heads(2).ffMult(2).build();
                MoaWeights w = Init.random(c, m, 11 + k[0] + k[1]);
                try (IncrementalDecoder dec = new IncrementalDecoder(w)) {
                    double err = maxError(w, dec, m, new int[] {200, 57, 8, 9, 3, 1}, new Random(k[0]));
                    assertTrue(err < TOL, "k_q " + k[0] + ", k_kv " + k[1] + ": max |scripted - full forward| " + err);
                }
            }
        }
    }

    @Test
    void theShippedModelAgrees() {
        Djl.inferenceThread();
        try (MoaModel model = MoaModel.loadEmbedded(); NDManager m = Djl.newManager();
             IncrementalDecoder dec = new IncrementalDecoder(model.weights())) {
            double err = maxError(model.weights(), dec, m, new int[] {1024, 390, 65, 31}, new Random(3));
            assertTrue(err < 1e-4, "max |scripted - full forward| " + err);
        }
    }

    /**
     * return_routing's trace from the step program's full forward selects what the definition
     * ({@link dev.moaserve.model.RoutingTrace#of}, the eager full forward) selects: every layer's
     * queries and keys, on the shipped model over a whole context, and on a model whose experts choose.
     */
    @Test
    void theRoutingTraceIsTheDefinitions() {
        Djl.inferenceThread();
        try (MoaModel model = MoaModel.loadEmbedded(); IncrementalDecoder dec = new IncrementalDecoder(model.weights())) {
            String text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n";
            long[] ids = model.tokenizer().encode(text.repeat(20));
            for (int n : new int[] {1024, 300, 33, 5}) {
                long[] part = java.util.Arrays.copyOf(ids, n);
                assertSameRouting(dev.moaserve.model.RoutingTrace.of(model.weights(), part), dec.wholeRows().routing(part), "shipped, " + n);
            }
        }
        try (NDManager m = Djl.newManager()) {
            ModelConfig c = ModelConfig.builder().vocab(19).dim(16).depth(2).seqLen(200).localWindow(6).routedWindow(8)
                    .routedQueries(3).routedKeyValues(5).experts(2).dimHead(4).heads(2).ffMult(2).build();
            MoaWeights w = Init.random(c, m, 5);
            try (IncrementalDecoder dec = new IncrementalDecoder(w)) {
                long[] ids = new Random(9).longs(150, 0, 19).toArray();
                assertSameRouting(dev.moaserve.model.RoutingTrace.of(w, ids), dec.wholeRows().routing(ids), "choosing experts");
            }
        }
    }

    private static void assertSameRouting(dev.moaserve.model.RoutingTrace want, dev.moaserve.model.RoutingTrace got, String what) {
        org.junit.jupiter.api.Assertions.assertEquals(want.tokens(), got.tokens(), what);
        org.junit.jupiter.api.Assertions.assertArrayEquals(want.queries(1), got.queries(1), what + ": queries");
        org.junit.jupiter.api.Assertions.assertArrayEquals(want.keys(1), got.keys(1), what + ": keys");
    }

    /** Largest difference over every row's real positions, the batch padded to its longest row. */
    private static double maxError(MoaWeights w, IncrementalDecoder dec, NDManager parent, int[] lengths, Random rnd) {
        ModelConfig c = w.config();
        int n = lengths[0];
        int d = c.dim();
        long[][] rows = new long[lengths.length][];
        long[] ids = new long[lengths.length * n];
        for (int b = 0; b < lengths.length; b++) {
            rows[b] = new long[lengths[b]];
            for (int t = 0; t < lengths[b]; t++) {
                rows[b][t] = rnd.nextInt(c.numTokens());
                ids[b * n + t] = rows[b][t];
            }
        }
        double worst = 0;
        try (NDManager m = parent.newSubManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            float[] got = dec.wholeRows().hidden(m, m.create(ids, new Shape(lengths.length, n)), lengths).toFloatArray();
            for (int b = 0; b < lengths.length; b++) {
                NDArray alone = Ops.rmsNorm(FullForward.finalHidden(w, m, m.create(rows[b], new Shape(1, lengths[b])), null, false),
                        w.finalGamma());
                float[] want = alone.toFloatArray();
                for (int i = 0; i < lengths[b] * d; i++) {
                    worst = Math.max(worst, Math.abs(got[b * n * d + i] - want[i]));
                }
            }
        }
        return worst;
    }
}

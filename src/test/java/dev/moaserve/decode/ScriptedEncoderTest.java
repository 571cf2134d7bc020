package dev.moaserve.decode;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.model.Djl;
import dev.moaserve.model.EncoderConfig;
import dev.moaserve.model.EncoderForward;
import dev.moaserve.model.EncoderModel;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The encoder program ({@code encoder_forward.py}) computes {@link EncoderForward}: on a
 * right-padded batch, every row's real positions agree, with and without the local branch, with
 * more and fewer routed tokens than a row has, and on the shipped encoder.
 */
class ScriptedEncoderTest {
    @Test
    void paddedRowsEqualTheEagerForward() {
        Djl.inferenceThread();
        try (NDManager m = Djl.newManager()) {
            for (boolean local : new boolean[] {true, false}) {
                for (int k : new int[] {4, 40}) {
                    ModelConfig c = ModelConfig.builder().vocab(19).dim(16).depth(2).seqLen(64).localWindow(5)
                            .routedWindow(64).routedQueries(k).routedKeyValues(k).experts(2).dimHead(4).heads(2).ffMult(2).build();
                    EncoderWeights w = Init.randomEncoder(new EncoderConfig(c, local), m, 7 + k);
                    double err = maxError(w, m, new int[] {64, 33, 5, 1}, new Random(k));
                    assertTrue(err < 2e-5, "local " + local + ", k " + k + ": max |scripted - eager| " + err);
                }
            }
        }
    }

    @Test
    void theShippedEncoderAgrees() {
        Djl.inferenceThread();
        try (EncoderModel e = EncoderModel.loadEmbedded(ai.djl.Device.cpu()); NDManager m = Djl.newManager()) {
            double err = maxError(e.weights(), m, new int[] {256, 120, 17}, new Random(5));
            assertTrue(err < 1e-4, "max |scripted - eager| " + err);
        }
    }

    private static double maxError(EncoderWeights w, NDManager parent, int[] lengths, Random rnd) {
        int n = lengths[0];
        int d = w.config().dim();
        long[] ids = new long[lengths.length * n];
        for (int b = 0; b < lengths.length; b++) {
            for (int t = 0; t < lengths[b]; t++) {
                ids[b * n + t] = rnd.nextInt(w.config().shape().numTokens() - 1);
            }
        }
        double worst = 0;
        try (ScriptedEncoder script = new ScriptedEncoder(w); NDManager m = parent.newSubManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            var batch = m.create(ids, new Shape(lengths.length, n));
            float[] got = script.hidden(m, batch, lengths).toFloatArray();
            float[] want = EncoderForward.forward(w, m, batch, lengths, null).toFloatArray();
            for (int b = 0; b < lengths.length; b++) {
                for (int i = 0; i < lengths[b] * d; i++) {
                    worst = Math.max(worst, Math.abs(got[b * n * d + i] - want[b * n * d + i]));
                }
            }
        }
        return worst;
    }
}

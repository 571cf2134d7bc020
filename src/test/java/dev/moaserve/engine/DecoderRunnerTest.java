package dev.moaserve.engine;

import ai.djl.ndarray.NDManager;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The runner's window prefill at admission: capped by moa.max-prefill-tokens, exact either way. */
class DecoderRunnerTest {
    @Test
    void aWindowPrefillFeedsAtMostItsCapAndTheRestStillAgrees() {
        Djl.inferenceThread();
        ModelConfig c = ModelConfig.builder().vocab(19).dim(16).depth(2).seqLen(256).localWindow(6).routedWindow(8)
                .routedQueries(8).routedKeyValues(5).experts(2).dimHead(4).heads(2).ffMult(2).build();
        long[] prompt = new Random(5).longs(200, 0, 19).toArray();
        try (NDManager m = Djl.newManager(); IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 2), 4,
                IncrementalDecoder.Recompute.LAZY)) {
            DecoderRunner uncapped = new DecoderRunner(dec);
            DecoderRunner capped = new DecoderRunner(dec, 70);
            try (StepRunner.State all = uncapped.newState(DecodeMode.EXACT); StepRunner.State some = capped.newState(DecodeMode.EXACT);
                 DecodeState stepped = dec.newState()) {
                assertEquals(192, uncapped.prefillWindows(all, prompt), "every whole window before the last token");
                assertEquals(64, capped.prefillWindows(some, prompt), "whole windows within the cap of 70 tokens");
                float[] want = dec.prefill(stepped, prompt);
                float[] a = dec.prefill(DecoderRunner.decodeState(all), Arrays.copyOfRange(prompt, 192, 200));
                float[] b = dec.prefill(DecoderRunner.decodeState(some), Arrays.copyOfRange(prompt, 64, 200));
                for (int i = 0; i < want.length; i++) {
                    assertTrue(Math.abs(want[i] - a[i]) < 1e-4 && Math.abs(want[i] - b[i]) < 1e-4, "logit " + i);
                }
            }
        }
    }
}

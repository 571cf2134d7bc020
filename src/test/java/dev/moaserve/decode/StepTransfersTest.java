package dev.moaserve.decode;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What crosses between host and device per step does not depend on the batch: 2 uploads (the
 * sink's download is the caller's), and a lazy step whose routing can change waits for the device
 * once per layer (its row count); a cached step never. The logits a step hands out live on the
 * weights' device.
 */
class StepTransfersTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 24})
    void transfersPerStepAreBoundedWhateverTheBatch(int batch) {
        ModelConfig c = ModelConfig.builder().vocab(19).dim(16).depth(3).seqLen(200).localWindow(6).routedWindow(8)
                .routedQueries(3).routedKeyValues(5).experts(2).dimHead(4).heads(2).ffMult(2).build();
        Random rnd = new Random(batch);
        try (NDManager m = Djl.newManager();
             IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 4, 0.1f), batch,
                     IncrementalDecoder.Recompute.LAZY)) {
            List<DecodeState> states = new ArrayList<>();
            List<long[]> prompts = new ArrayList<>();
            for (int b = 0; b < batch; b++) {
                states.add(dec.newState());
                prompts.add(new long[] {1 + b % 7, 2, 3 + b % 5});
            }
            dec.prefill(states, prompts);
            long worst = 0;
            int lazySteps = 0;
            int cachedSteps = 0;
            for (int step = 0; step < 40; step++) {
                long[] toks = new long[batch];
                for (int b = 0; b < batch; b++) {
                    toks[b] = rnd.nextInt(c.numTokens());
                }
                StepStats before = dec.stats().snapshot();
                List<long[]> appended = new ArrayList<>();
                for (long t : toks) {
                    appended.add(new long[] {t});
                }
                dec.step(states, appended, logits -> {
                    assertEquals(Device.cpu(), logits.getDevice());
                    return logits.toFloatArray().length;
                });
                StepStats d = dec.stats().since(before);
                worst = Math.max(worst, d.transfers());
                assertEquals(2, d.transfers(), "step " + step + ": uploads");
                if (d.syncs() == 0) {
                    cachedSteps++;
                } else {
                    assertEquals(c.depth(), d.syncs(), "step " + step + ": one wait per layer");
                    lazySteps++;
                }
            }
            System.out.printf("B=%d: at most %d decoder transfers per step, %d cached and %d lazy steps%n",
                    batch, worst, cachedSteps, lazySteps);
            assertTrue(cachedSteps > 0, "some steps are plain cached steps");
            assertTrue(lazySteps > 0, "some steps plan their rows on the device");
            states.forEach(DecodeState::close);
        }
    }
}

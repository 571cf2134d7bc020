package dev.moaserve.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The step program's batched sampler picks what the host reference rule picks, row by row. */
class BatchSamplerTest {

    private static List<SamplingParams> mix() {
        List<SamplingParams> p = new ArrayList<>();
        p.add(SamplingParams.greedy(10));
        p.add(new SamplingParams(1.0, 0, 1.0, 0, 1, 0, 0, 1L, 10, List.of(), 0));     // plain temperature
        p.add(new SamplingParams(0.7, 5, 1.0, 0, 1, 0, 0, 2L, 10, List.of(), 3));     // top-k, logprobs
        p.add(new SamplingParams(1.3, 0, 0.8, 0, 1, 0, 0, 3L, 10, List.of(), 0));     // top-p
        p.add(new SamplingParams(0.9, 0, 1.0, 0.2, 1, 0, 0, 4L, 10, List.of(), 5));   // min-p
        p.add(new SamplingParams(0.8, 20, 0.9, 0.05, 1.3, 0.5, 0.25, 5L, 10, List.of(), 2)); // all of them + penalties
        p.add(new SamplingParams(0, 0, 1.0, 0, 1.5, 1.0, 0.5, null, 10, List.of(), 1)); // greedy with penalties
        p.add(new SamplingParams(1.0, 0, 0.95, 0, 1, 0, 0, 6L, 10, List.of(), 2)
                .withLogitBias(java.util.Map.of(3, 4.5f, 10, -100f, 50, -2f)));               // logit bias, sampled
        p.add(new SamplingParams(0, 0, 1.0, 0, 1.2, 0, 0.3, null, 10, List.of(), 0)
                .withLogitBias(java.util.Map.of(7, 3f, 8, -3f)));                              // bias + penalties, greedy
        return p;
    }

    @Test
    void matchesTheHostReferenceRowByRow() {
        int vocab = 97;
        List<SamplingParams> params = mix();
        List<Sampler> device = new ArrayList<>();
        List<Sampler> host = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            device.add(new Sampler(params.get(i), vocab, 100 + i));
            host.add(new Sampler(params.get(i), vocab, 100 + i));
        }
        Random rnd = new Random(5);
        Djl.inferenceThread();
        ModelConfig c = new ModelConfig(vocab, 8, 1, 16, 4, 4, 2, 2, 1, 4, 2, 2, true, 1.0, 20, 0.03, 4, 0.7, 8);
        try (NDManager m = Djl.newManager();
             IncrementalDecoder decoder = new IncrementalDecoder(Init.random(c, m, 1))) {
            for (int step = 0; step < 60; step++) {
                float[][] rows = new float[params.size()][vocab];
                float[] flat = new float[params.size() * vocab];
                for (int i = 0; i < rows.length; i++) {
                    for (int t = 0; t < vocab; t++) {
                        rows[i][t] = (float) (rnd.nextGaussian() * 2.5);
                        flat[i * vocab + t] = rows[i][t];
                    }
                }
                Sampler.Choice[] got;
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    NDArray logits = m.create(flat, new Shape(rows.length, vocab));
                    got = BatchSampler.sample(decoder, logits, device);
                }
                for (int i = 0; i < rows.length; i++) {
                    Sampler.Choice want = host.get(i).next(rows[i]);
                    assertEquals(want.token(), got[i].token(), "row " + i + " step " + step);
                    assertEquals(want.logprob(), got[i].logprob(), 1e-4);
                    assertArrayEquals(want.topTokens(), got[i].topTokens(), "row " + i + " step " + step);
                    for (int j = 0; j < want.topLogprobs().length; j++) {
                        assertEquals(want.topLogprobs()[j], got[i].topLogprobs()[j], 1e-4);
                    }
                }
            }
        }
    }
}

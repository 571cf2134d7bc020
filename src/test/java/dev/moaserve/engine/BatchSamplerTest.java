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
        p.add(SamplingParams.builder().seed(1L).maxTokens(10).build());     // plain temperature
        p.add(SamplingParams.builder().temperature(0.7).topK(5).seed(2L).maxTokens(10).logprobs(3).build());     // top-k, logprobs
        p.add(SamplingParams.builder().temperature(1.3).topP(0.8).seed(3L).maxTokens(10).build());     // top-p
        p.add(SamplingParams.builder().temperature(0.9).minP(0.2).seed(4L).maxTokens(10).logprobs(5).build());   // min-p
        p.add(SamplingParams.builder().temperature(0.8).topK(20).topP(0.9).minP(0.05).repetitionPenalty(1.3)
                .presencePenalty(0.5).frequencyPenalty(0.25).seed(5L).maxTokens(10).logprobs(2).build()); // all of them + penalties
        p.add(SamplingParams.builder().temperature(0).repetitionPenalty(1.5).presencePenalty(1.0).frequencyPenalty(0.5)
                .maxTokens(10).logprobs(1).build());                                          // greedy with penalties
        p.add(SamplingParams.builder().topP(0.95).seed(6L).maxTokens(10).logprobs(2).build()
                .withLogitBias(java.util.Map.of(3, 4.5f, 10, -100f, 50, -2f)));               // logit bias, sampled
        p.add(SamplingParams.builder().temperature(0).repetitionPenalty(1.2).frequencyPenalty(0.3).maxTokens(10).build()
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
        ModelConfig c = ModelConfig.builder().vocab(vocab).dim(8).depth(1).seqLen(16).localWindow(4).routedWindow(4)
                .routedQueries(2).routedKeyValues(2).experts(1).dimHead(4).heads(2).ffMult(2).build();
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
                    Sampler.Choice want = HostSampling.next(host.get(i), rows[i]);
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

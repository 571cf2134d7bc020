package dev.moaserve.engine;

import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.MoaModel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A seeded sampled request gives the same tokens alone and among 63 other requests. */
class SeededBatchTest {

    @Test
    void seededRequestIsIndependentOfItsBatch() throws Exception {
        try (MoaModel model = MoaModel.loadEmbedded();
             IncrementalDecoder decoder = new IncrementalDecoder(model.weights(), 64, IncrementalDecoder.Recompute.LAZY)) {
            SamplingParams probe = SamplingParams.builder().temperature(0.9).topK(12).topP(0.95).minP(0.02)
                    .repetitionPenalty(1.1).presencePenalty(0.1).frequencyPenalty(0.1).seed(77L).maxTokens(48).build();
            long[] prompt = model.tokenizer().encode("KING HENRY:\nWhat say you");
            List<Integer> alone;
            List<Integer> batched;
            try (EngineLoop loop = EngineLoop.start(new Scheduler(new DecoderRunner(decoder), model.tokenizer(), new Scheduler.Limits(64, 512, 256, 0), EngineStats.NONE))) {
                Scheduler s = loop.scheduler();
                alone = run(s, prompt, probe).get(120, TimeUnit.SECONDS);
            }
            try (EngineLoop loop = EngineLoop.start(new Scheduler(new DecoderRunner(decoder), model.tokenizer(), new Scheduler.Limits(64, 512, 256, 0), EngineStats.NONE))) {
                Scheduler s = loop.scheduler();
                List<CompletableFuture<List<Integer>>> others = new ArrayList<>();
                for (int i = 0; i < 63; i++) {
                    SamplingParams p = SamplingParams.builder().temperature(i % 3 == 0 ? 0 : 1.0).topK(i % 5).seed((long) i).maxTokens(20 + i).build();
                    others.add(run(s, model.tokenizer().encode("The " + "x".repeat(i % 40) + " of"), p));
                }
                CompletableFuture<List<Integer>> probeRun = run(s, prompt, probe);
                batched = probeRun.get(300, TimeUnit.SECONDS);
                for (CompletableFuture<List<Integer>> f : others) {
                    f.get(300, TimeUnit.SECONDS);
                }
            }
            assertEquals(48, alone.size());
            assertEquals(alone, batched);
        }
    }

    private static CompletableFuture<List<Integer>> run(Scheduler s, long[] prompt, SamplingParams p) {
        return Collect.one(s, prompt, p).thenApply(Collect.Result::tokens);
    }
}

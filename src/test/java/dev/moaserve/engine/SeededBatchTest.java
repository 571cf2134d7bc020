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
            SamplingParams probe = new SamplingParams(0.9, 12, 0.95, 0.02, 1.1, 0.1, 0.1, 77L, 48, List.of(), 0);
            long[] prompt = model.tokenizer().encode("KING HENRY:\nWhat say you");
            List<Integer> alone;
            List<Integer> batched;
            try (Scheduler s = new Scheduler(decoder, model.tokenizer(), new Scheduler.Limits(64, 512, 256, 0), EngineStats.NONE)) {
                alone = run(s, prompt, probe).get(120, TimeUnit.SECONDS);
            }
            try (Scheduler s = new Scheduler(decoder, model.tokenizer(), new Scheduler.Limits(64, 512, 256, 0), EngineStats.NONE)) {
                List<CompletableFuture<List<Integer>>> others = new ArrayList<>();
                for (int i = 0; i < 63; i++) {
                    SamplingParams p = new SamplingParams(i % 3 == 0 ? 0 : 1.0, i % 5, 1.0, 0, 1, 0, 0, (long) i, 20 + i, List.of(), 0);
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

package dev.moaserve.engine;

import dev.moaserve.model.CharTokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scheduler's policy over a {@link FakeRunner}: no model, no tensors, no threads: each test
 * submits, then drives the engine's loop on its own thread ({@link EngineLoop#runOnce}).
 */
class SchedulerTest {
    private static final int W = 4;
    private static final CharTokenizer TK = new CharTokenizer("abcdefghijklmnopqrstuvwxyz .,;:!?\n");
    private static final int V = TK.vocabSize();

    private static long[] prompt(int n, int salt) {
        long[] p = new long[n];
        for (int i = 0; i < n; i++) {
            p[i] = (i * 7L + salt) % V;
        }
        return p;
    }

    private static SamplingParams greedy(int max) {
        return SamplingParams.builder().temperature(0).maxTokens(max).build();
    }

    /** What the fake model generates greedily after {@code prompt}: the reference every scheduled run must give. */
    private static List<Integer> expected(FakeRunner r, long[] prompt, int max) {
        List<Long> ctx = new ArrayList<>();
        for (long t : prompt) {
            ctx.add(t);
        }
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < max; i++) {
            int t = r.next(ctx);
            out.add(t);
            ctx.add((long) t);
        }
        return out;
    }

    /** Runs the loop until nothing is left, then the request's result (already complete). */
    private static Collect.Result get(EngineLoop loop, CompletableFuture<Collect.Result> f) throws Exception {
        loop.runUntilIdle();
        assertTrue(f.isDone(), "the loop went idle before the request finished");
        return f.get(0, TimeUnit.SECONDS);
    }

    private static EngineLoop loop(StepRunner r, Scheduler.Limits limits) {
        return new EngineLoop(new Scheduler(r, TK, limits, EngineStats.NONE));
    }

    @Test
    void promptsAreChunkedWithinWindowsAndTheTokenBudget() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        int budget = 6;
        List<CompletableFuture<Collect.Result>> runs = new ArrayList<>();
        List<long[]> prompts = new ArrayList<>();
        try (EngineLoop loop = loop(r, new Scheduler.Limits(4, budget, 16, 0))) {
            Scheduler s = loop.scheduler();
            for (int i = 0; i < 4; i++) {
                prompts.add(prompt(9 + 3 * i, i));
                runs.add(Collect.one(s, prompts.get(i), greedy(5)));
            }
            for (int i = 0; i < 4; i++) {
                Collect.Result res = get(loop, runs.get(i));
                assertEquals(expected(r, prompts.get(i), 5), res.tokens(), "request " + i);
                assertEquals(FinishReason.LENGTH, res.reason());
            }
        }
        for (int[] step : r.steps) {
            int total = 0;
            for (int n : step) {
                assertTrue(n >= 1 && n <= W);
                total += n;
            }
            assertTrue(total <= budget || step.length == 1, "a step over the token budget: " + java.util.Arrays.toString(step));
            assertTrue(step.length <= 4, "more sequences than max-batch-size in one step");
        }
        assertEquals(0, r.open.get(), "every state freed");
    }

    @Test
    void admitsUpToTheBatchSizeAndRefusesBeyondTheQueue() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        try (EngineLoop loop = loop(r, new Scheduler.Limits(2, 64, 3, 0))) {
            Scheduler s = loop.scheduler();
            List<CompletableFuture<Collect.Result>> runs = new ArrayList<>();
            // one request running after one iteration: whatever arrives now waits
            runs.add(Collect.one(s, prompt(5, 0), greedy(3)));
            loop.runOnce();
            assertEquals(1, s.runningCount());
            for (int i = 1; i < 4; i++) {
                runs.add(Collect.one(s, prompt(5, i), greedy(3)));
            }
            assertEquals(3, s.waitingCount());
            assertThrows(QueueFullException.class, () -> Collect.one(s, prompt(5, 9), greedy(3)));
            for (int i = 0; i < runs.size(); i++) {
                assertEquals(expected(r, prompt(5, i), 3), get(loop, runs.get(i)).tokens());
            }
        }
        boolean full = false;
        for (int[] step : r.steps) {
            assertTrue(step.length <= 2, "more sequences than max-batch-size in one step");
            full |= step.length == 2;
        }
        assertTrue(full, "waiting requests are admitted up to max-batch-size together");
    }

    @Test
    void aCancelledRequestFreesItsStateAndOthersGoOn() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        try (EngineLoop loop = loop(r, new Scheduler.Limits(4, 64, 16, 0))) {
            Scheduler s = loop.scheduler();
            List<FinishReason> reasons = new ArrayList<>();
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch ended = new CountDownLatch(1);
            GenerationRequest longOne = new GenerationRequest("long", prompt(6, 1), greedy(100_000 / 2), new TokenListener() {
                @Override
                public void onToken(int token, String text, Sampler.Choice choice) {
                    started.countDown();
                }

                @Override
                public void onFinish(Finish finish) {
                    reasons.add(finish.reason());
                    ended.countDown();
                }
            });
            s.submit(longOne);
            CompletableFuture<Collect.Result> other = Collect.one(s, prompt(7, 2), greedy(20));
            while (started.getCount() > 0) {
                assertTrue(loop.runOnce(), "the long request runs");
            }
            longOne.cancel();
            loop.runOnce();
            assertEquals(0, ended.getCount(), "the next iteration ends a cancelled request");
            assertEquals(List.of(FinishReason.CANCELLED), reasons);
            assertEquals(expected(r, prompt(7, 2), 20), get(loop, other).tokens());
            assertEquals(0, s.runningCount());
            assertEquals(0, r.open.get());
        }
    }

    @Test
    void forksFeedThePromptOnceAndSampleLikeSoloRuns() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        long[] p = prompt(11, 3);
        try (EngineLoop loop = loop(r, new Scheduler.Limits(8, 64, 16, 0))) {
            Scheduler s = loop.scheduler();
            SamplingParams seeded = SamplingParams.builder().temperature(1.0).seed(7L).maxTokens(6).build();
            List<CompletableFuture<Collect.Result>> group = Collect.choices(s, p,
                    List.of(seeded, seeded.withSeed(8L), seeded.withSeed(9L)));
            List<Collect.Result> forks = new ArrayList<>();
            for (CompletableFuture<Collect.Result> f : group) {
                forks.add(get(loop, f));
            }
            int fedTokens = r.steps.stream().flatMapToInt(java.util.Arrays::stream).sum();
            // the prompt's 8 tokens before its last window are fed once; each choice feeds the rest and its tokens
            assertEquals(8 + 3 * (3 + 6 - 1), fedTokens);
            assertEquals(0, forks.get(0).cached());
            for (int i = 1; i < 3; i++) {
                assertEquals(8, forks.get(i).cached(), "fork " + i + " copies its leader's state at the window boundary");
                Collect.Result alone = get(loop, Collect.one(s, p, seeded.withSeed(7L + i)));
                assertEquals(alone.tokens(), forks.get(i).tokens(), "fork " + i);
            }
        }
        assertEquals(0, r.open.get());
    }

    @Test
    void wholeWindowsAtAdmissionThenStepsGiveTheSameTokensAndForksShareThem() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        r.wholeWindows = true;
        long[] p = prompt(23, 5);
        try (EngineLoop loop = loop(r, new Scheduler.Limits(8, 64, 16, 0))) {
            Scheduler s = loop.scheduler();
            SamplingParams seeded = SamplingParams.builder().temperature(1.0).seed(7L).maxTokens(6).build();
            List<CompletableFuture<Collect.Result>> group = Collect.choices(s, p,
                    List.of(seeded, seeded.withSeed(8L), seeded.withSeed(9L)));
            List<Collect.Result> choices = new ArrayList<>();
            for (CompletableFuture<Collect.Result> f : group) {
                choices.add(get(loop, f));
            }
            // the leader's 20 tokens before its last window in one call; forks copy its state there
            assertEquals(List.of(20), r.windowPrefills);
            for (int i = 1; i < 3; i++) {
                assertEquals(20, choices.get(i).cached(), "fork " + i + " copies its leader's state at the boundary");
            }
            assertEquals(expected(r, p, 4), get(loop, Collect.one(s, p, greedy(4))).tokens(), "a greedy run after a window prefill");
            FakeRunner stepped = new FakeRunner(W, V);
            try (EngineLoop other = loop(stepped, new Scheduler.Limits(8, 64, 16, 0))) {
            Scheduler t = other.scheduler();
                for (int i = 0; i < 3; i++) {
                    assertEquals(get(other, Collect.one(t, p, seeded.withSeed(7L + i))).tokens(), choices.get(i).tokens(), "choice " + i);
                }
            }
        }
        assertEquals(0, r.open.get());
    }

    @Test
    void oneWindowPrefillPerIterationSoRunningStreamsKeepStepping() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        r.wholeWindows = true;
        try (EngineLoop loop = loop(r, new Scheduler.Limits(8, 64, 16, 0))) {
            Scheduler s = loop.scheduler();
            CompletableFuture<Collect.Result> running = Collect.one(s, prompt(5, 1), greedy(40));
            loop.runOnce();
            List<CompletableFuture<Collect.Result>> longOnes = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                longOnes.add(Collect.one(s, prompt(23, 10 + i), greedy(4)));
            }
            for (int iteration = 1; iteration <= 3; iteration++) {
                int steps = r.steps.size();
                loop.runOnce();
                assertEquals(iteration, r.windowPrefills.size(), "one window prefill per iteration");
                assertEquals(steps + 1, r.steps.size(), "and a step in every iteration");
            }
            assertEquals(expected(r, prompt(5, 1), 40), get(loop, running).tokens());
            for (int i = 0; i < 3; i++) {
                assertEquals(expected(r, prompt(23, 10 + i), 4), get(loop, longOnes.get(i)).tokens(), "request " + i);
            }
        }
        assertEquals(0, r.open.get());
    }

    @Test
    void aFullBatchAdmitsLowerPriorityValuesFirstThenArrivalOrder() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        try (EngineLoop loop = loop(r, new Scheduler.Limits(1, 64, 16, 0))) {
            Scheduler s = loop.scheduler();
            List<String> started = new ArrayList<>();
            java.util.function.BiFunction<String, Integer, GenerationRequest> req = (id, priority) ->
                    new GenerationRequest(id, prompt(5, id.length()), greedy(3), new TokenListener() {
                        @Override
                        public void onToken(int token, String text, Sampler.Choice choice) {
                            if (!started.contains(id)) {
                                started.add(id);
                            }
                        }

                        @Override
                        public void onFinish(Finish finish) {}
                    }).withPriority(priority);
            s.submit(req.apply("running", 0));
            loop.runOnce();                      // the batch of one is full from here on
            s.submit(req.apply("late", 5));
            s.submit(req.apply("first-zero", 0));
            s.submit(req.apply("urgent", -1));
            s.submit(req.apply("second-zero", 0));
            loop.runUntilIdle();
            assertEquals(List.of("running", "urgent", "first-zero", "second-zero", "late"), started);
        }
        assertEquals(0, r.open.get());
    }

    @Test
    void promptsThatShareAPrefixShareItsSnapshotAfterWindowPrefills() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        r.wholeWindows = true;
        long[] system = prompt(10, 3);                      // shared: two whole windows and a bit
        try (EngineLoop loop = loop(r, new Scheduler.Limits(4, 64, 16, 0, 16 * r.bytesPerSequence()))) {
            Scheduler s = loop.scheduler();
            List<Collect.Result> results = new ArrayList<>();
            List<long[]> prompts = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                long[] p = java.util.Arrays.copyOf(system, 23);
                System.arraycopy(prompt(13, 40 + i), 0, p, 10, 13); // each its own question
                prompts.add(p);
                results.add(get(loop, Collect.one(s, p, greedy(3))));
            }
            // the first: all 20 whole tokens at once; the second stops where it parts from the first (8),
            // leaving a snapshot there; the third starts from it
            assertEquals(List.of(20, 8), r.windowPrefills);
            assertEquals(0, results.get(0).cached());
            assertEquals(0, results.get(1).cached());
            assertEquals(8, results.get(2).cached());
            for (int i = 0; i < 3; i++) {
                assertEquals(expected(r, prompts.get(i), 3), results.get(i).tokens(), "request " + i);
            }
        }
        assertEquals(0, r.open.get());
    }

    @Test
    void theSecondRequestForAPromptStartsFromTheCache() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        long[] p = prompt(14, 5);
        try (EngineLoop loop = loop(r, new Scheduler.Limits(4, 64, 16, 0, 8 * r.bytesPerSequence()))) {
            Scheduler s = loop.scheduler();
            Collect.Result first = get(loop, Collect.one(s, p, greedy(4)));
            Collect.Result second = get(loop, Collect.one(s, p, greedy(4)));
            assertEquals(0, first.cached());
            assertEquals(12, second.cached(), "the longest window boundary before the prompt's last token");
            assertEquals(expected(r, p, 4), first.tokens());
            assertEquals(first.tokens(), second.tokens());
            assertTrue(s.prefixCache().hits() >= 1);
            assertEquals(3, s.prefixCache().size(), "snapshots at 4, 8 and 12");
        }
        assertEquals(0, r.open.get(), "snapshots freed with the cache");
    }

    @Test
    void aStopStringEndsTheRequestAndIsNotReturned() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        long[] p = prompt(6, 4);
        List<Integer> want = expected(r, p, 12);
        String text = TK.decode(want.stream().mapToLong(Integer::longValue).toArray());
        String stop = text.substring(5, 7);
        int cut = text.indexOf(stop);
        try (EngineLoop loop = loop(r, new Scheduler.Limits(4, 64, 16, 0))) {
            Scheduler s = loop.scheduler();
            List<String> pieces = new ArrayList<>();
            CompletableFuture<TokenListener.Finish> done = new CompletableFuture<>();
            s.submit(new GenerationRequest("stop", p, SamplingParams.builder().temperature(0).maxTokens(12)
                    .stop(List.of(stop)).build(), new TokenListener() {
                @Override
                public void onToken(int token, String t, Sampler.Choice choice) {
                    pieces.add(t);
                }

                @Override
                public void onFinish(Finish finish) {
                    done.complete(finish);
                }
            }));
            loop.runUntilIdle();
            TokenListener.Finish f = done.get(0, TimeUnit.SECONDS);
            assertEquals(FinishReason.STOP, f.reason());
            assertEquals(text.substring(0, cut), f.text());
            assertEquals(text.substring(0, cut), String.join("", pieces));
        }
    }

    @Test
    void aFailedStepFailsItsBatchAndTheSchedulerGoesOn() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        try (EngineLoop loop = loop(r, new Scheduler.Limits(4, 64, 16, 0))) {
            Scheduler s = loop.scheduler();
            r.failNext = true;
            CompletableFuture<Collect.Result> failed = Collect.one(s, prompt(5, 1), greedy(3));
            Exception e = assertThrows(Exception.class, () -> get(loop, failed));
            assertTrue(e.getCause().getMessage().contains("injected step failure"), e.toString());
            assertEquals(expected(r, prompt(5, 2), 3), get(loop, Collect.one(s, prompt(5, 2), greedy(3))).tokens());
        }
        assertEquals(0, r.open.get());
    }

    @Test
    void afterADrainNewRequestsAreRefused() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        EngineLoop loop = loop(r, new Scheduler.Limits(4, 64, 16, 0));
        CompletableFuture<Collect.Result> running = Collect.one(loop.scheduler(), prompt(5, 1), greedy(30));
        loop.drain(TimeUnit.SECONDS.toNanos(30));
        assertTrue(loop.finished());
        assertEquals(expected(r, prompt(5, 1), 30), running.get(0, TimeUnit.SECONDS).tokens(), "a running request finishes during the drain");
        assertThrows(ShuttingDownException.class, () -> Collect.one(loop.scheduler(), prompt(5, 2), greedy(3)));
        assertNotEquals(0, r.steps.size());
        assertEquals(0, r.open.get());
    }

    @Test
    void aDrainWhoseGraceEndsEndsWhatIsLeftWithAnError() throws Exception {
        FakeRunner r = new FakeRunner(W, V);
        EngineLoop loop = loop(r, new Scheduler.Limits(1, 64, 16, 0));
        CompletableFuture<Collect.Result> running = Collect.one(loop.scheduler(), prompt(5, 1), greedy(30));
        CompletableFuture<Collect.Result> queued = Collect.one(loop.scheduler(), prompt(5, 2), greedy(3));
        loop.runOnce();
        loop.drain(0);
        for (CompletableFuture<Collect.Result> f : List.of(running, queued)) {
            Exception e = assertThrows(Exception.class, () -> f.get(0, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("shut down"), e.toString());
        }
        assertEquals(0, r.open.get());
    }
}

package dev.moaserve.engine;

import ai.djl.ndarray.types.DataType;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.engine.constraint.ConstraintSpec;
import dev.moaserve.engine.constraint.Constraints;
import dev.moaserve.engine.constraint.Vocabulary;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.RoutingTrace;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's front door on the shipped model: a request passes its stages as states, and in
 * each stage (compiling its constraint, scoring its prompt, waiting, running, tracing its routing)
 * the same two rules end it — its client leaving, and moa.request-timeout counted from arrival —
 * with the time moved by the test's clock, never slept. The engine's loop runs on the test's thread.
 */
class RequestPipelineTest {
    private static final long TIMEOUT = TimeUnit.SECONDS.toNanos(10);

    private static MoaModel model;
    private static IncrementalDecoder decoder;
    private static Constraints constraints;
    private static PromptScorer scorer;
    private static RoutingWorker routing;

    /** The engine's time: moves only when a test says so. */
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private Scheduler scheduler;
    private EngineLoop loop;
    private RequestPipeline pipeline;

    @BeforeAll
    static void load() {
        model = MoaModel.loadEmbedded();
        decoder = new IncrementalDecoder(model.weights(), 2, IncrementalDecoder.Recompute.LAZY, DataType.FLOAT32);
        constraints = new Constraints(() -> Vocabulary.of(model.tokenizer(), model.config().numTokens()), 0,
                new Constraints.Limits(1, 4, 60_000, 200_000));
        scorer = new PromptScorer(model.weights(), DataType.FLOAT32, 4);
        routing = new RoutingWorker(decoder.wholeRows()::routing, 4);
    }

    @AfterAll
    static void close() {
        constraints.close();
        scorer.close();
        routing.close();
        decoder.close();
        model.close();
    }

    @BeforeEach
    void engine() {
        scheduler = new Scheduler(new DecoderRunner(decoder), model.tokenizer(), new Scheduler.Limits(1, 512, 4, TIMEOUT),
                EngineStats.NONE, now::get);
        loop = new EngineLoop(scheduler);
        pipeline = new RequestPipeline(scheduler, constraints, scorer, routing, EngineStats.NONE, TIMEOUT);
    }

    @AfterEach
    void stop() {
        loop.close();
    }

    /** The stages a request can be stopped in, and a request that passes through that stage. */
    enum Stage {
        COMPILING_CONSTRAINT, SCORING_PROMPT, WAITING, RUNNING, TRACING_ROUTING;

        InferenceRequest request(long[] prompt) {
            InferenceRequest.Builder b = InferenceRequest.builder(prompt, SamplingParams.builder().temperature(0).maxTokens(6).build());
            return switch (this) {
                // a schema only this stage's tests use: the cache (size 0) never has it compiled
                case COMPILING_CONSTRAINT -> b.constraint(new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA,
                        "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"maxLength\": 3}}}")).build();
                case SCORING_PROMPT -> b.scorePrompt(1).build();
                case TRACING_ROUTING -> b.routingFrom(0).build();
                default -> b.build();
            };
        }

        RequestState state() {
            return RequestState.valueOf(name());
        }
    }

    /** What the engine told of one request; {@code onEntering} runs when it enters {@code stage}. */
    private static final class Recorder implements RequestEvents {
        final List<RequestState> states = new CopyOnWriteArrayList<>();
        final List<Integer> tokens = new CopyOnWriteArrayList<>();
        final CompletableFuture<RequestFailure> failed = new CompletableFuture<>();
        final CompletableFuture<TokenListener.Finish> completed = new CompletableFuture<>();
        volatile RoutingTrace routing;
        private final RequestState stage;
        private final java.util.function.Consumer<RequestHandle> onEntering;
        volatile RequestHandle handle;

        Recorder(RequestState stage, java.util.function.Consumer<RequestHandle> onEntering) {
            this.stage = stage;
            this.onEntering = onEntering;
        }

        @Override
        public void onSubmitted(RequestHandle h) {
            handle = h;
        }

        @Override
        public void onState(RequestState s) {
            states.add(s);
            if (s == stage) {
                onEntering.accept(handle);
            }
        }

        @Override
        public void onToken(int choice, int token, String text, Sampler.Choice sampled) {
            tokens.add(token);
        }

        @Override
        public void onChoiceEnd(int choice, TokenListener.Finish finish, RoutingTrace trace, String routingError) {
            routing = trace;
            completed.complete(finish);
        }

        @Override
        public void onFailed(RequestFailure f) {
            failed.complete(f);
        }

        boolean ended() {
            return failed.isDone() || completed.isDone();
        }
    }

    private long[] prompt() {
        return model.tokenizer().encode("First Citizen:\nBefore we proceed any further, hear me speak.");
    }

    /** Runs the engine's loop on this thread until the request ended (off-loop stages end on their own threads). */
    private void runUntilEnded(Recorder r) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!r.ended() && System.nanoTime() < deadline) {
            if (!loop.runOnce()) {
                Thread.sleep(1); // an off-loop stage is working: nothing to step
            }
        }
        assertTrue(r.ended(), "the request did not end: " + r.states);
    }

    @Test
    void aRequestPassesEachStageItNeedsInOrder() throws Exception {
        Recorder r = new Recorder(null, h -> {});
        InferenceRequest req = InferenceRequest.builder(prompt(), SamplingParams.builder().temperature(0).maxTokens(6).build())
                .constraint(new ConstraintSpec(ConstraintSpec.Kind.REGEX, "[a-z]{6}")).scorePrompt(1).routingFrom(0).build();
        RequestHandle h = pipeline.submit("all-stages", req, r);
        runUntilEnded(r);
        assertEquals(List.of(RequestState.COMPILING_CONSTRAINT, RequestState.SCORING_PROMPT, RequestState.WAITING,
                RequestState.RUNNING, RequestState.TRACING_ROUTING, RequestState.FINISHED), r.states);
        assertEquals(FinishReason.STOP, r.completed.get().reason());
        assertEquals(6, r.tokens.size());
        assertNotNull(r.routing);
        assertNotNull(h.promptScores());
        assertEquals(RequestState.FINISHED, h.state());
    }

    @ParameterizedTest
    @EnumSource(Stage.class)
    void theTimeoutEndsEveryStageAtItsNextCheck(Stage stage) throws Exception {
        Recorder r = new Recorder(stage.state(), h -> now.addAndGet(TIMEOUT + 1));
        pipeline.submit("timeout-" + stage, stage.request(prompt()), r);
        runUntilEnded(r);
        RequestFailure f = r.failed.getNow(null);
        assertNotNull(f, "it completed instead: " + r.states);
        assertEquals(RequestFailure.Kind.TIMEOUT, f.kind());
        assertEquals(stage.state(), f.stage(), f.message());
        assertTrue(f.message().contains(stage.state().during()), f.message());
        assertEquals(stage.state(), r.states.get(r.states.size() - 1), "no stage after the one that timed out: " + r.states);
        assertFreed(stage);
    }

    @ParameterizedTest
    @EnumSource(Stage.class)
    void aClientThatLeavesStopsEveryStage(Stage stage) throws Exception {
        Recorder r = new Recorder(stage.state(), RequestHandle::cancel);
        pipeline.submit("gone-" + stage, stage.request(prompt()), r);
        runUntilEnded(r);
        RequestFailure f = r.failed.getNow(null);
        assertNotNull(f, "it completed instead: " + r.states);
        assertEquals(RequestFailure.Kind.CANCELLED, f.kind());
        assertEquals(stage.state(), f.stage(), f.message());
        assertEquals(stage.state(), r.states.get(r.states.size() - 1), "no stage after the one it left in: " + r.states);
        assertFreed(stage);
    }

    /** Nothing of the request is left in the scheduler; a request that never ran got no token. */
    private void assertFreed(Stage stage) {
        loop.runOnce();
        assertEquals(0, scheduler.runningCount());
        assertEquals(0, scheduler.waitingCount());
        if (stage.ordinal() < Stage.RUNNING.ordinal()) {
            assertTrue(loopIdle(), "nothing waits or runs");
        }
    }

    private boolean loopIdle() {
        return !loop.runOnce();
    }

    @Test
    void aFullQueueIsARejectionNotAnException() throws Exception {
        Scheduler tiny = new Scheduler(new DecoderRunner(decoder), model.tokenizer(), new Scheduler.Limits(1, 512, 1, TIMEOUT),
                EngineStats.NONE, now::get);
        RequestPipeline p = new RequestPipeline(tiny, constraints, scorer, routing, EngineStats.NONE, TIMEOUT);
        try (EngineLoop l = new EngineLoop(tiny)) {
            Recorder first = new Recorder(null, h -> {});
            Recorder second = new Recorder(null, h -> {});
            p.submit("first", Stage.WAITING.request(prompt()), first);
            p.submit("second", Stage.WAITING.request(prompt()), second);
            RequestFailure f = second.failed.getNow(null);
            assertNotNull(f, "the second request waits beyond the queue's bound");
            assertEquals(RequestFailure.Kind.REJECTED, f.kind());
            assertEquals(RequestState.WAITING, f.stage());
            assertFalse(first.failed.isDone());
            l.runUntilIdle();
            assertEquals(FinishReason.LENGTH, first.completed.getNow(null).reason());
        }
    }

    @Test
    void aBudgetBelowTheShortestOutputIsRefusedAtTheDoorAndCutPastIt() throws Exception {
        // 20 characters at least: {"a":"<20>"} is 28 tokens, more than 10
        ConstraintSpec spec = new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA,
                "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"minLength\": 20}}, \"required\": [\"a\"]}");
        Recorder r = new Recorder(null, h -> {});
        pipeline.submit("short-budget", InferenceRequest.builder(prompt(), SamplingParams.builder().temperature(0).maxTokens(10)
                .build()).constraint(spec).build(), r);
        RequestFailure f = r.failed.get(60, TimeUnit.SECONDS);
        assertEquals(RequestFailure.Kind.INVALID, f.kind());
        assertEquals("max_tokens", f.param());
        // submitted to the scheduler directly, the budget rule stands aside: the output is cut at max_tokens, never stuck
        var c = constraints.compile(spec);
        assertTrue(c.shortest() > 10, "shortest " + c.shortest());
        var run = Collect.one(scheduler, prompt(), SamplingParams.builder().temperature(0).maxTokens(10).build().withConstraint(c));
        loop.runUntilIdle();
        Collect.Result cut = run.get(60, TimeUnit.SECONDS);
        assertEquals(FinishReason.LENGTH, cut.reason());
        assertEquals(10, cut.tokens().size());
    }

    @Test
    void withoutATimeoutTheClockDoesNotEndIt() throws Exception {
        Scheduler untimed = new Scheduler(new DecoderRunner(decoder), model.tokenizer(), new Scheduler.Limits(1, 512, 4, 0),
                EngineStats.NONE, now::get);
        RequestPipeline p = new RequestPipeline(untimed, constraints, scorer, routing, EngineStats.NONE, 0);
        try (EngineLoop l = new EngineLoop(untimed)) {
            Recorder r = new Recorder(RequestState.RUNNING, h -> now.addAndGet(TimeUnit.DAYS.toNanos(1)));
            p.submit("untimed", Stage.WAITING.request(prompt()), r);
            l.runUntilIdle();
            assertNull(r.failed.getNow(null));
            assertEquals(FinishReason.LENGTH, r.completed.getNow(null).reason());
        }
    }
}

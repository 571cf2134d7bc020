package dev.moaserve.engine;

import ai.djl.ndarray.types.DataType;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.decode.PoolAllocationException;
import dev.moaserve.decode.SampleBatch;
import dev.moaserve.decode.StepProgram;
import dev.moaserve.model.Djl;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.MoaWeights;

import java.util.List;

/**
 * The serving engine of one model, built from one {@link Config}: the decoder (decode-layout
 * weights, the state pool, the compiled step program), warmed up, and the scheduler that drives
 * it. The server, the command line's in-process load generators and tests build it the same way.
 */
public final class Engine implements AutoCloseable {
    /**
     * @param recompute {@code lazy} or {@code all} (which current-window rows an exact step recomputes)
     * @param dtype     of the matmuls and the state's keys/values (float32 or float16)
     * @param maxPrefillTokens most prompt tokens fed in one full-forward call at admission
     */
    public record Config(int maxBatchSize, int maxBatchedTokens, int maxQueue, long requestTimeoutNanos,
                         long prefixCacheBytes, String recompute, DataType dtype, int maxPrefillTokens) {
        /** Defaults for in-process use: float32, lazy, no timeout, no prefix cache. */
        public static Config of(int maxBatchSize, int maxQueue) {
            return new Config(maxBatchSize, 512, maxQueue, 0, 0, "lazy", DataType.FLOAT32, 4096);
        }
    }

    /** The decode-state pool for {@link Config#maxBatchSize} sequences does not fit on the device. */
    public static final class PoolTooLargeException extends IllegalStateException {
        PoolTooLargeException(PoolAllocationException e) {
            super(e.getMessage(), e);
        }
    }

    private final IncrementalDecoder decoder;
    private final EngineLoop loop;

    private Engine(IncrementalDecoder decoder, EngineLoop loop) {
        this.decoder = decoder;
        this.loop = loop;
    }

    /** Builds the decoder, runs its first prefill and step, and starts the engine's loop. */
    public static Engine start(MoaModel model, Config c, EngineStats stats) {
        return start(model, c, stats, EngineClock.SYSTEM);
    }

    /** {@code clock}: where its scheduler reads the time (timeouts, latencies). */
    public static Engine start(MoaModel model, Config c, EngineStats stats, EngineClock clock) {
        return start(model, c, stats, clock, null);
    }

    /**
     * {@code compute}: the loop its steps take turns on, beside other models' work (null: a
     * compute thread of its own).
     */
    public static Engine start(MoaModel model, Config c, EngineStats stats, EngineClock clock, ComputeLoop compute) {
        return start(model, c, stats, clock, compute, null);
    }

    /** {@code program}: the step program compiled beside the model's load (null: compiled here). */
    public static Engine start(MoaModel model, Config c, EngineStats stats, EngineClock clock, ComputeLoop compute,
                               StepProgram program) {
        IncrementalDecoder decoder;
        try {
            decoder = new IncrementalDecoder(model.weights(), c.maxBatchSize(), IncrementalDecoder.Recompute.parse(c.recompute()),
                    c.dtype(), program);
        } catch (PoolAllocationException e) {
            throw new PoolTooLargeException(e);
        }
        firstStep(decoder);
        Scheduler scheduler = new Scheduler(new DecoderRunner(decoder, c.maxPrefillTokens()), model.tokenizer(),
                new Scheduler.Limits(c.maxBatchSize(), c.maxBatchedTokens(), c.maxQueue(), c.requestTimeoutNanos(),
                        c.prefixCacheBytes()), stats, clock);
        return new Engine(decoder, compute == null ? EngineLoop.start(scheduler) : EngineLoop.on(compute, scheduler));
    }

    /**
     * The program's first two runs of the method the server steps with ({@code step_sample}: a
     * prompt's last chunk, then a decode step, greedy), before any request: libtorch's graph
     * executor profiles a method at its first run and optimises it at its second, each 50–170 ms
     * for this program, so a server warmed on another method made its first requests pay both.
     * Not the HTTP warm-up ({@code moa.warm-up-requests}).
     */
    private static void firstStep(IncrementalDecoder decoder) {
        Djl.inferenceThread();
        int vocab = decoder.config().numTokens();
        List<Sampler> greedy = List.of(new Sampler(SamplingParams.greedy(1), vocab, 0));
        try (DecodeState s = decoder.newState()) {
            for (long[] tokens : new long[][] {{0, 0}, {0}}) {
                SampleBatch batch = BatchSampler.prepare(greedy, new long[] {0}, vocab);
                BatchSampler.finish(decoder.stepAndSample(List.of(s), List.of(tokens), batch), greedy, batch, vocab);
            }
        }
    }

    /** Embeddings of this model, computed by the decoder's program beside the scheduler's steps. */
    public Embedder embedder(MoaWeights weights, Embedder.Pooling pooling, Embedder.Limits limits) {
        return Embedder.of(decoder, weights, pooling, limits);
    }

    /** Traces finished texts' routing off the loop, with this engine's step program ({@code return_routing}). */
    public RoutingWorker routingWorker(int maxQueue) {
        return new RoutingWorker(decoder.wholeRows()::routing, maxQueue);
    }

    /** Where requests are submitted, and the batch's counters. */
    public Scheduler scheduler() {
        return loop.scheduler();
    }

    /** Graceful drain (see {@link EngineLoop#drain}); returns when the loop has stopped. */
    public void drain(long graceNanos) {
        loop.drain(graceNanos);
    }

    /** Where the engine's loop spent its time so far (step program vs host work around it). */
    public EngineLoop.Times loopTimes() {
        return loop.times();
    }

    /** Bytes of decode state one sequence holds: constant for the model, whatever its length. */
    public long bytesPerSequence() {
        return decoder.bytesPerSequence();
    }

    /** Stops the scheduler (running requests end as errors) and frees the decoder once nothing runs on it. */
    @Override
    public void close() {
        loop.close();
        if (loop.finished()) {
            decoder.close();
        }
    }
}

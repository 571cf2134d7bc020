package dev.moaserve.engine;

import dev.moaserve.model.RoutingTrace;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * Computes the routing of finished texts ({@code return_routing}) off the engine's loop: one call
 * of the step program's full forward per text (at most seq_len tokens,
 * {@link dev.moaserve.decode.WholeRows#routing}) on one thread, a bounded queue.
 */
public final class RoutingWorker implements AutoCloseable {
    private final Function<long[], RoutingTrace> tracer;
    private final OffLoopWorker worker;

    /** {@code tracer}: a text's routing (the serving decoder's whole-row forward). */
    public RoutingWorker(Function<long[], RoutingTrace> tracer, int maxQueue) {
        this.tracer = tracer;
        this.worker = new OffLoopWorker("moa-routing", maxQueue);
    }

    /**
     * The routing of {@code ids}, skipped if {@code abandoned} says so when its turn comes; fails
     * with {@link RejectedExecutionException} when the queue is full.
     */
    public CompletableFuture<RoutingTrace> trace(long[] ids, BooleanSupplier abandoned) {
        return worker.submit(() -> tracer.apply(ids), abandoned);
    }

    @Override
    public void close() {
        worker.close();
    }
}

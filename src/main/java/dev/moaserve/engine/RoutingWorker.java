package dev.moaserve.engine;

import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.RoutingTrace;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BooleanSupplier;

/**
 * Computes the routing of finished texts ({@code return_routing}) off the engine's loop: the
 * model's full forward (at most seq_len tokens each) on one thread, a bounded queue.
 */
public final class RoutingWorker implements AutoCloseable {
    private final MoaWeights weights;
    private final OffLoopWorker worker;

    public RoutingWorker(MoaWeights weights, int maxQueue) {
        this.weights = weights;
        this.worker = new OffLoopWorker("moa-routing", maxQueue);
    }

    /**
     * The routing of {@code ids}, skipped if {@code abandoned} says so when its turn comes; fails
     * with {@link RejectedExecutionException} when the queue is full.
     */
    public CompletableFuture<RoutingTrace> trace(long[] ids, BooleanSupplier abandoned) {
        return worker.submit(() -> RoutingTrace.of(weights, ids), abandoned);
    }

    @Override
    public void close() {
        worker.close();
    }
}

package dev.moaserve.engine;

import dev.moaserve.model.Djl;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.RoutingTrace;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Computes the routing of finished texts ({@code return_routing}) off the engine's loop: one
 * thread running the model's full forward (at most seq_len tokens each), a bounded queue.
 */
public final class RoutingWorker implements AutoCloseable {
    private final MoaWeights weights;
    private final ThreadPoolExecutor pool;

    public RoutingWorker(MoaWeights weights, int maxQueue) {
        this.weights = weights;
        this.pool = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(Math.max(1, maxQueue)), r -> {
            Thread t = new Thread(() -> {
                Djl.inferenceThread();
                r.run();
            }, "moa-routing");
            t.setDaemon(true);
            return t;
        });
    }

    /** The routing of {@code ids}; fails with {@link RejectedExecutionException} when the queue is full. */
    public CompletableFuture<RoutingTrace> trace(long[] ids) {
        return CompletableFuture.supplyAsync(() -> RoutingTrace.of(weights, ids), pool);
    }

    /** Finishes the routings already asked for (each is bounded by seq_len tokens), for at most 10 s. */
    @Override
    public void close() {
        pool.shutdown();
        try {
            if (!pool.awaitTermination(10, TimeUnit.SECONDS)) {
                pool.shutdownNow();
            }
        } catch (InterruptedException e) {
            pool.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}

package dev.moaserve.engine;

import dev.moaserve.model.Djl;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * One thread beside the engine's loop for bounded per-request model work (a full forward, a
 * prompt decoded token by token): inference mode on one intra-op thread ({@link Djl#sideThread}), a bounded queue
 * whose items are skipped once abandoned, and on close the work
 * already queued finishes (each item is bounded by seq_len), for at most 10 s.
 */
final class OffLoopWorker implements AutoCloseable {
    private final ThreadPoolExecutor pool;

    OffLoopWorker(String name, int maxQueue) {
        this.pool = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(Math.max(1, maxQueue)), r -> {
            Thread t = new Thread(() -> {
                Djl.sideThread();
                r.run();
            }, name);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Runs {@code work} on the worker unless {@code abandoned} says, when its turn comes, that its
     * client left or its time ran out (it then fails with {@link CancellationException});
     * {@link RejectedExecutionException} when the queue is full.
     */
    <T> CompletableFuture<T> submit(Supplier<T> work, BooleanSupplier abandoned) {
        return CompletableFuture.supplyAsync(() -> {
            if (abandoned.getAsBoolean()) {
                throw new CancellationException("abandoned while queued");
            }
            return work.get();
        }, pool);
    }

    /** Nothing runs on the worker any more. */
    boolean terminated() {
        return pool.isTerminated();
    }

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

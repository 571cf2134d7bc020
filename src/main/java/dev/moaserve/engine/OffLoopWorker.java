package dev.moaserve.engine;

import dev.moaserve.model.Djl;
import dev.moaserve.model.NativeMemory;

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
 * already queued finishes (each item is bounded by seq_len), for at most 10 s. When a burst of
 * work ends (the queue is empty after {@link #TRIM_AFTER_NANOS} of work), the C heap's free pages
 * go back to the system ({@link NativeMemory#trim}), so a burst leaves no resident plateau.
 */
final class OffLoopWorker implements AutoCloseable {
    /** Work time after which an empty queue trims the heap: a trim's few milliseconds stay under 2 % of it. */
    static final long TRIM_AFTER_NANOS = 200_000_000L;

    private final ThreadPoolExecutor pool;
    private long untrimmedNanos; // work since the last trim (the worker's thread only)

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
            long t0 = System.nanoTime();
            try {
                return work.get();
            } finally {
                untrimmedNanos += System.nanoTime() - t0;
                if (untrimmedNanos >= TRIM_AFTER_NANOS && pool.getQueue().isEmpty()) {
                    NativeMemory.trim();
                    untrimmedNanos = 0;
                }
            }
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

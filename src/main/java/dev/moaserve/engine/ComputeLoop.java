package dev.moaserve.engine;

import dev.moaserve.model.Djl;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One thread that runs the model work of every model it is given, in turn: each loaded
 * generator's engine ({@link EngineLoop}) and each encoder's embeddings ({@link Embedder}). A
 * server has one, on every core ({@link Djl#inferenceThread}): two threads that each open an
 * OpenMP team make every parallel region of both pay a sleep and a wake-up
 * ({@link Djl#sideThread}), so a second model would halve the first's speed by contention; taking
 * turns on one thread costs each model only the other's steps.
 *
 * <p>Fairness is by time and by waiting work: the loop runs one unit (a decode step, an embedding
 * micro-batch) of the work whose compute time so far, divided by the requests it holds, is the
 * least (a virtual time, as a fair-share scheduler keeps), so each request gets about the same
 * share of the thread whatever its model — one model's long units (an embedding micro-batch of
 * 2,048 tokens against a decode step of a few milliseconds) do not take the others' turns. A work
 * with nothing to run banks no credit: its virtual time follows the others'. The loop sleeps while
 * no work has anything to run, until {@link #wake} (a submission) or a short poll.
 */
public final class ComputeLoop implements AutoCloseable {
    private static final long IDLE_POLL_MILLIS = 50;

    /** Model work the loop steps in turn. Every method is called on the loop's thread only. */
    public interface Work {
        /** Requests this work holds (running or waiting): 0 when it has nothing to run. Any thread. */
        int waiting();

        /** Runs one unit; false when there was nothing to run. */
        boolean runOnce();

        /** True once this work is over for good: the loop drops it and calls {@link #dropped}. */
        boolean over();

        /** After the loop dropped it (or stopped): end what is left, free what only this thread may touch. */
        void dropped();
    }

    private final List<Work> works = new CopyOnWriteArrayList<>();
    private final Object signal = new Object();
    private final boolean allCores;
    private final Thread thread;
    private boolean woken; // guarded by signal
    private volatile boolean closed;
    // the loop's thread only: each work's virtual time (nanoseconds of its units ÷ its requests), and the least among works with requests
    private final java.util.Map<Work, double[]> virtualNanos = new java.util.IdentityHashMap<>();
    private double floor;

    private ComputeLoop(String name, boolean allCores) {
        this.allCores = allCores;
        this.thread = new Thread(this::run, name);
        this.thread.setDaemon(true);
    }

    /**
     * A loop on its own thread. {@code allCores}: the process's compute thread (every core); else a
     * thread beside it, on one intra-op thread ({@link Djl#sideThread}).
     */
    public static ComputeLoop start(String name, boolean allCores) {
        ComputeLoop loop = new ComputeLoop(name, allCores);
        loop.thread.start();
        return loop;
    }

    /** Adds work; the loop steps it from its next round. */
    public void add(Work work) {
        if (closed) {
            throw new ShuttingDownException("the compute loop has stopped");
        }
        works.add(work);
        wake();
    }

    /** Something was submitted, or a work's state changed: the loop looks again now. */
    public void wake() {
        synchronized (signal) {
            woken = true;
            signal.notifyAll();
        }
    }

    private void run() {
        if (allCores) {
            Djl.inferenceThread();
        } else {
            Djl.sideThread();
        }
        try {
            while (!closed || !works.isEmpty()) {
                if (!runOne()) {
                    awaitWork();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            for (Work w : works) {
                works.remove(w);
                w.dropped();
            }
        }
    }

    /** One unit of the work with the least virtual time among those with requests; false when none had one to run. */
    private boolean runOne() {
        List<Work> ready = new java.util.ArrayList<>();
        for (Work w : works) {
            if (w.over()) {
                works.remove(w);
                virtualNanos.remove(w);
                w.dropped();
                continue;
            }
            double[] v = virtualNanos.computeIfAbsent(w, k -> new double[] {floor});
            if (w.waiting() > 0) {
                ready.add(w);
            } else {
                v[0] = Math.max(v[0], floor); // idle: no credit banked
            }
        }
        ready.sort(java.util.Comparator.comparingDouble(w -> virtualNanos.get(w)[0]));
        for (Work w : ready) {
            double[] v = virtualNanos.get(w);
            int requests = Math.max(1, w.waiting());
            long t0 = System.nanoTime();
            if (w.runOnce()) {
                floor = Math.max(floor, v[0]);
                v[0] += (System.nanoTime() - t0) / (double) requests;
                return true;
            }
        }
        return false;
    }

    private void awaitWork() throws InterruptedException {
        synchronized (signal) {
            if (!woken) {
                signal.wait(IDLE_POLL_MILLIS);
            }
            woken = false;
        }
    }

    /** The loop's thread itself (its work must not wait for it). */
    boolean isLoopThread() {
        return Thread.currentThread() == thread;
    }

    /** Stops once every work is over; waits at most {@code millis} for that. */
    public void close(long millis) {
        closed = true;
        wake();
        if (isLoopThread()) {
            return; // a work that ends its own loop: it stops after this round
        }
        try {
            thread.join(Math.max(1, millis));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        close(10_000);
    }
}

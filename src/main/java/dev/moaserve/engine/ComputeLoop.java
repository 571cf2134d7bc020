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
 * <p>Fairness: the loop runs one unit (a decode step, an embedding micro-batch) of the next work
 * that has something to run, round-robin, so each model with waiting work gets a step per turn
 * whatever its queue's length; a model with nothing to do costs one check. It sleeps while no
 * work has anything to run, until {@link #wake} (a submission) or a short poll.
 */
public final class ComputeLoop implements AutoCloseable {
    private static final long IDLE_POLL_MILLIS = 50;

    /** Model work the loop steps in turn. Every method is called on the loop's thread only. */
    public interface Work {
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
    private int next; // the loop's thread only: where the next round starts

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

    /** Works not yet dropped. */
    public int size() {
        return works.size();
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

    /** One unit of the first work, from {@link #next} on, that has one to run; false when none had. */
    private boolean runOne() {
        Work[] round = works.toArray(new Work[0]);
        for (int i = 0; i < round.length; i++) {
            int at = (next + i) % round.length;
            Work w = round[at];
            if (w.over()) {
                works.remove(w);
                w.dropped();
                continue;
            }
            if (w.runOnce()) {
                next = at + 1;
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

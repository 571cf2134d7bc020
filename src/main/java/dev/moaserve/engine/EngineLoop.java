package dev.moaserve.engine;

import org.jboss.logging.Logger;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The engine's loop: what touches the decoder, on one thread. Each iteration asks the
 * {@link Scheduler} for a step, runs it on the {@link StepRunner}, and gives the results back. It
 * runs as a {@link ComputeLoop.Work}: on the server's one compute loop beside the other models'
 * work, or on a loop of its own ({@link #start}). Tests drive the same iteration on their own
 * thread ({@link #runOnce}, {@link #runUntilIdle}) without a loop.
 */
public final class EngineLoop implements ComputeLoop.Work, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(EngineLoop.class);

    private final Scheduler scheduler;
    private final StepRunner runner;
    private ComputeLoop compute;   // null when a test drives it
    private boolean ownLoop;       // the compute loop was started for this engine alone
    private boolean attached;      // the loop's thread only
    private final CountDownLatch stopped = new CountDownLatch(1);
    private boolean shutDown;
    // time of the iterations that stepped, inside the step and around it (one writer: the loop)
    private volatile long stepNanos;
    private volatile long hostNanos;
    private volatile long iterations;

    public EngineLoop(Scheduler scheduler) {
        this.scheduler = scheduler;
        this.runner = scheduler.runner();
    }

    /** A loop on a compute thread of its own ({@code moa-engine}, every core). */
    public static EngineLoop start(Scheduler scheduler) {
        EngineLoop loop = on(ComputeLoop.start("moa-engine", true), scheduler);
        loop.ownLoop = true;
        return loop;
    }

    /** A loop that takes its turns on {@code compute}, beside the other work there. */
    public static EngineLoop on(ComputeLoop compute, Scheduler scheduler) {
        EngineLoop loop = new EngineLoop(scheduler);
        loop.compute = compute;
        scheduler.onWork(compute::wake);
        compute.add(loop);
        return loop;
    }
    public Scheduler scheduler() {
        return scheduler;
    }

    /**
     * Where the loop's time went: inside the step program, and the host work around it (schedule,
     * plan, sampling's packing, emission), summed over the iterations that stepped. What an overlap
     * of host work with the step (vLLM's async scheduling) could win is the host share.
     */
    public record Times(long iterations, long stepNanos, long hostNanos) {
        public double hostShare() {
            return hostNanos / (double) Math.max(1, stepNanos + hostNanos);
        }
    }

    public Times times() {
        return new Times(iterations, stepNanos, hostNanos);
    }

    private boolean iterate() {
        Scheduler.Step step;
        try {
            long t0 = System.nanoTime();
            step = scheduler.schedule(scheduler.clock().nanoTime());
            if (step == null) {
                return false;
            }
            long t1 = System.nanoTime();
            Sampler.Choice[] results = runner.step(step.states(), step.chunks(), step.samplers(), step.rows());
            long t2 = System.nanoTime();
            scheduler.apply(step, results);
            stepNanos += t2 - t1;
            hostNanos += System.nanoTime() - t2 + t1 - t0;
            iterations++;
        } catch (RuntimeException | Error e) {
            LOG.error("decode step failed", e);
            scheduler.fail(e);
        }
        return true;
    }

    /** Iterates on the caller's thread until nothing runs or waits (or a drain's grace ends). */
    public void runUntilIdle() {
        while (!scheduler.idle() && !scheduler.drainExpired(System.nanoTime())) {
            iterate();
        }
    }

    /** One iteration (a turn on the compute loop): schedule, step, apply. False when there was nothing to step. */
    @Override
    public boolean runOnce() {
        if (scheduler.idle()) {
            return false;
        }
        if (compute != null && !attached) {
            runner.attachThread();
            attached = true;
        }
        return iterate();
    }

    @Override
    public int waiting() {
        return scheduler.runningCount() + scheduler.waitingCount();
    }

    /** Drained: the grace period ended, or nothing runs or waits and nothing more is accepted. */
    @Override
    public boolean over() {
        return scheduler.drainExpired(System.nanoTime()) || !scheduler.accepting() && scheduler.idle();
    }

    @Override
    public void dropped() {
        shutDown();
        stopped.countDown();
        if (ownLoop) {
            compute.close(0);
        }
    }

    private synchronized void shutDown() {
        if (!shutDown) {
            shutDown = true;
            scheduler.shutdown();
        }
    }

    /**
     * Graceful drain: stop admitting, let running and queued requests finish until the grace
     * period ends, then end the rest with an error. Returns when the loop has stopped (a loop
     * without a thread runs the drain on the caller's).
     */
    public void drain(long graceNanos) {
        scheduler.stopAccepting(System.nanoTime() + graceNanos);
        if (compute == null) {
            runUntilIdle();
            shutDown();
            return;
        }
        compute.wake();
        try {
            stopped.await(Math.max(1, graceNanos / 1_000_000 + 5_000), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        drain(0);
    }

    /** The loop has ended: nothing touches the decoder any more. */
    public boolean finished() {
        return compute == null ? shutDown : stopped.getCount() == 0;
    }
}

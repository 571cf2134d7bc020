package dev.moaserve.engine;

import org.jboss.logging.Logger;

/**
 * The engine's loop: the one thread that touches the decoder. Each iteration asks the
 * {@link Scheduler} for a step, runs it on the {@link StepRunner}, and gives the results back;
 * it sleeps while nothing runs or waits. Tests drive the same iteration on their own thread
 * ({@link #runOnce}, {@link #runUntilIdle}) without starting one.
 */
public final class EngineLoop implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(EngineLoop.class);
    private static final long IDLE_POLL_MILLIS = 50;

    private final Scheduler scheduler;
    private final StepRunner runner;
    private Thread thread;
    private boolean shutDown;
    // time of the iterations that stepped, inside the step and around it (one writer: the loop)
    private volatile long stepNanos;
    private volatile long hostNanos;
    private volatile long iterations;

    public EngineLoop(Scheduler scheduler) {
        this.scheduler = scheduler;
        this.runner = scheduler.runner();
    }

    /** A loop on its own thread ({@code moa-engine}). */
    public static EngineLoop start(Scheduler scheduler) {
        EngineLoop loop = new EngineLoop(scheduler);
        loop.thread = new Thread(loop::run, "moa-engine");
        loop.thread.setDaemon(true);
        loop.thread.start();
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

    /** One iteration: schedule, step, apply. False when there was nothing to step. */
    public boolean runOnce() {
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
            runOnce();
        }
    }

    private void run() {
        runner.attachThread();
        try {
            while (!scheduler.drainExpired(System.nanoTime())) {
                if (scheduler.idle()) {
                    if (!scheduler.accepting()) {
                        break;
                    }
                    scheduler.awaitWork(IDLE_POLL_MILLIS);
                    continue;
                }
                runOnce();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            shutDown();
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
        if (thread == null) {
            runUntilIdle();
            shutDown();
            return;
        }
        try {
            thread.join(Math.max(1, graceNanos / 1_000_000 + 5_000));
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
        return thread == null ? shutDown : !thread.isAlive();
    }
}

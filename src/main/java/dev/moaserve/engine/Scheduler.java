package dev.moaserve.engine;

import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.PriorityBlockingQueue;

/**
 * Continuous (iteration-level) batching, as a policy over plain values: the {@link EngineLoop}
 * calls {@link #schedule} for the next step, runs it on the {@link StepRunner} and hands the
 * results to {@link #apply}. Each iteration
 * <ol>
 *   <li>retires cancelled and timed-out sequences (their state is freed at once),</li>
 *   <li>admits waiting requests up to {@code maxBatch} running sequences (a fresh prompt's whole
 *       windows in one call where the runner can),</li>
 *   <li>plans one batched step: a token for every decoding sequence, then prompt chunks while
 *       {@code maxBatchedTokens} lasts,</li>
 *   <li>after the step: samples are emitted, finished sequences retired.</li>
 * </ol>
 * Only the loop's thread calls {@link #schedule}, {@link #apply}, {@link #fail} and
 * {@link #shutdown}; {@link #submit} and the counters are safe from any thread.
 */
public final class Scheduler {
    /** Engine limits; {@code prefixCacheBytes}: budget of the prefix-state cache (0 = off). */
    public record Limits(int maxBatch, int maxBatchedTokens, int maxQueue, long timeoutNanos, long prefixCacheBytes) {
        public Limits(int maxBatch, int maxBatchedTokens, int maxQueue, long timeoutNanos) {
            this(maxBatch, maxBatchedTokens, maxQueue, timeoutNanos, 0);
        }
    }

    /** A waiting request and its place: by priority (lower first, as vLLM), then arrival. */
    private record Queued(GenerationRequest request, long arrival) implements Comparable<Queued> {
        @Override
        public int compareTo(Queued o) {
            int c = Integer.compare(request.priority(), o.request.priority());
            return c != 0 ? c : Long.compare(arrival, o.arrival);
        }
    }

    private final StepRunner runner;
    private final Tokenizer tokenizer;
    private final Limits limits;
    private final EngineStats stats;
    private final PrefixCache cache;
    private final EngineClock clock;
    /** When waiting requests were last checked for a cancellation or a timeout. */
    private long waitingCheckedNanos;
    /** Waiting requests, lowest priority value first, then in arrival order (all 0 under first-come-first-served). */
    private final PriorityBlockingQueue<Queued> waiting = new PriorityBlockingQueue<>();
    private long arrivals;
    private final List<Sequence> running = new ArrayList<>();
    private volatile boolean accepting = true;
    private volatile Runnable wake = () -> {};
    private volatile long drainDeadline = Long.MAX_VALUE;
    private volatile int runningCount;
    private boolean windowPrefillDone;   // this iteration has fed a prompt's windows at once (at most one does)

    public Scheduler(StepRunner runner, Tokenizer tokenizer, Limits limits, EngineStats stats) {
        this(runner, tokenizer, limits, stats, EngineClock.SYSTEM);
    }

    /** {@code clock}: the time its timeouts and latencies are read from (a test's moves when told). */
    public Scheduler(StepRunner runner, Tokenizer tokenizer, Limits limits, EngineStats stats, EngineClock clock) {
        this.clock = clock;
        this.runner = runner;
        this.tokenizer = tokenizer;
        this.limits = limits;
        this.stats = stats;
        this.cache = new PrefixCache(runner, limits.prefixCacheBytes());
    }

    /** Queues a request; never blocks. */
    public void submit(GenerationRequest r) {
        if (!accepting) {
            throw new ShuttingDownException("the server is shutting down and accepts no new requests");
        }
        synchronized (waiting) {
            if (waiting.size() >= limits.maxQueue()) {
                throw new QueueFullException("the server is at capacity (" + limits.maxQueue()
                        + " requests waiting); retry later");
            }
            waiting.add(new Queued(r, arrivals++));
        }
        wake.run();
    }

    public int waitingCount() {
        return waiting.size();
    }

    public int runningCount() {
        return runningCount;
    }

    /** Bytes of decode state held by the running sequences. */
    public long stateBytes() {
        return (long) runningCount * runner.bytesPerSequence();
    }

    /**
     * Share of the decode-state pool held by running sequences, 0–1: each holds one fixed-size
     * slot of {@code maxBatch}, so this is what a paged-KV server reports as KV-cache usage.
     */
    public double stateUsage() {
        return (double) runningCount / limits.maxBatch();
    }

    /** The prefix-state cache (read its counters from any thread; only the scheduler changes it). */
    public PrefixCache prefixCache() {
        return cache;
    }

    public boolean accepting() {
        return accepting;
    }

    /** Graceful drain: no new requests; running and queued ones go on until {@code deadlineNanos} ({@link System#nanoTime}). */
    void stopAccepting(long deadlineNanos) {
        accepting = false;
        drainDeadline = deadlineNanos;
    }

    /** Nothing runs and nothing waits. */
    boolean idle() {
        return running.isEmpty() && waiting.isEmpty();
    }

    /** The drain's grace period has ended: what is left is ended by {@link #shutdown}. */
    boolean drainExpired(long now) {
        return now > drainDeadline;
    }

    /** {@code wake} runs after each submission: the loop that steps this scheduler looks again. */
    void onWork(Runnable wake) {
        this.wake = wake;
    }

    StepRunner runner() {
        return runner;
    }

    public EngineClock clock() {
        return clock;
    }

    /** What one step runs: each stepped sequence's state and chunk, and which rows sample (decoding ones first). */
    record Step(List<Sequence> stepped, List<StepRunner.State> states, List<long[]> chunks, int decoding,
                List<Sampler> samplers, long[] rows) {}

    /** A failed step fails its batch, never the scheduler: every running sequence ends with the error. */
    void fail(Throwable e) {
        long now = clock.nanoTime();
        for (Sequence s : running) {
            s.finish(FinishReason.ERROR, "internal error: " + e.getMessage(), stats, now);
        }
        retire();
    }

    /** The loop has stopped: everything running or waiting ends with an error, the prefix cache is freed. */
    void shutdown() {
        long now = clock.nanoTime();
        for (Sequence s : running) {
            s.finish(FinishReason.ERROR, "the server shut down before this request finished", stats, now);
        }
        retire();
        Queued w;
        while ((w = waiting.poll()) != null) {
            for (GenerationRequest q : group(w.request())) {
                q.listener().onFinish(new TokenListener.Finish(FinishReason.ERROR, q.prompt().length, 0, "",
                        "the server shut down before this request started"));
            }
        }
        cache.close();
    }

    /** The next step after retiring expired sequences and admitting waiting ones; null when nothing runs. */
    Step schedule(long now) {
        for (Sequence s : running) {
            if (s.request.isCancelled()) {
                s.finish(FinishReason.CANCELLED, null, stats, now);
            } else if (expired(s.request, now)) {
                s.finish(FinishReason.TIMEOUT, "request timed out while it ran", stats, now);
            }
        }
        retire();
        endAbandonedWaiting(now);
        windowPrefillDone = false;
        admit();
        return plan();
    }

    private boolean expired(GenerationRequest r, long now) {
        return limits.timeoutNanos() > 0 && now - r.createdNanos() > limits.timeoutNanos();
    }

    /**
     * Waiting requests whose client left or whose time ran out end here, without a slot (checked
     * at most every millisecond: the scan copies the queue).
     */
    private void endAbandonedWaiting(long now) {
        if (waiting.isEmpty() || now - waitingCheckedNanos < 1_000_000) {
            return;
        }
        waitingCheckedNanos = now;
        for (Queued q : waiting.toArray(new Queued[0])) {
            GenerationRequest r = q.request();
            boolean cancelled = r.isCancelled();
            if ((cancelled || expired(r, now)) && waiting.remove(q)) {
                stats.ended(cancelled ? "cancelled" : "timeout");
                for (GenerationRequest g : group(r)) {
                    g.listener().onFinish(new TokenListener.Finish(cancelled ? FinishReason.CANCELLED : FinishReason.TIMEOUT,
                            g.prompt().length, 0, "", cancelled ? null : "request timed out while it waited for a decode slot"));
                }
            }
        }
    }

    /**
     * The next step: every decoding sequence one token, then prompt chunks while the token budget
     * ({@code maxBatchedTokens}) lasts, each chunk within its routed window; null when nothing runs.
     */
    private Step plan() {
        List<StepRunner.State> states = new ArrayList<>();
        List<long[]> chunks = new ArrayList<>();
        List<Sequence> stepped = new ArrayList<>();
        int budget = limits.maxBatchedTokens();
        int decoding = 0;
        for (Sequence s : running) {
            if (s.decoding()) {
                states.add(s.state);
                chunks.add(new long[] {s.lastToken});
                stepped.add(s);
                budget--;
                decoding++;
            }
        }
        for (Sequence s : running) {
            long[] prompt = s.request.prompt();
            if (s.state != null && s.fed < prompt.length && (budget > 0 || stepped.isEmpty())) {
                int n = Math.min(Math.min(runner.roomInWindow(s.state), prompt.length - s.fed), Math.max(1, budget));
                states.add(s.state);
                chunks.add(Arrays.copyOfRange(prompt, s.fed, s.fed + n));
                stepped.add(s);
                s.fed += n;
                budget -= n;
            }
        }
        if (stepped.isEmpty()) {
            return null;
        }
        // sample only for rows whose prompt is complete (a prompt's last chunk gives its first token)
        List<Sampler> samplers = new ArrayList<>();
        List<Long> rows = new ArrayList<>();
        for (int i = 0; i < stepped.size(); i++) {
            if (stepped.get(i).fed == stepped.get(i).request.prompt().length) {
                samplers.add(stepped.get(i).sampler);
                rows.add((long) i);
            }
        }
        return new Step(stepped, states, chunks, decoding, samplers, rows.stream().mapToLong(Long::longValue).toArray());
    }

    /** A step's results: prefix-cache offers at window boundaries, waiting forks started, tokens emitted, finished sequences retired. */
    void apply(Step step, Sampler.Choice[] choices) {
        long now = clock.nanoTime();
        if (step.decoding() > 0) {
            stats.batch(step.decoding());
        }
        for (int i = step.decoding(); i < step.stepped().size(); i++) {
            Sequence s = step.stepped().get(i); // fed a prompt chunk: a window boundary is a snapshot point
            if (s.state.windowFill() == 0) {
                cache.offer(s.request.prompt(), s.fed, s.state);
            }
        }
        startWaiting();
        for (int j = 0; j < step.rows().length; j++) {
            step.stepped().get((int) step.rows()[j]).emit(choices[j], tokenizer, stats, now);
        }
        retire();
    }

    /** A request and its n > 1 forks. */
    private static List<GenerationRequest> group(GenerationRequest r) {
        List<GenerationRequest> all = new ArrayList<>();
        all.add(r);
        all.addAll(r.forks());
        return all;
    }

    /**
     * A new sequence's state: the longest cached prefix of its prompt, forked, or a fresh one. A
     * fresh prompt's whole windows go in one call where the runner can, at most one such call per
     * iteration (running streams wait for it); a sequence that would need a second waits, state
     * still null, for the next iteration.
     */
    private void start(Sequence s) {
        PrefixCache.Hit hit = cache.lookup(s.request.prompt(), s.request.decodeMode());
        if (hit != null) {
            s.state = runner.fork(hit.state());
            s.fed = hit.length();
            s.cached = hit.length();
        } else if (!windowPrefillDone) {
            long[] prompt = s.request.prompt();
            DecodeMode mode = s.request.decodeMode();
            s.state = runner.newState(mode);
            // up to where an earlier prompt parted from this one, if one did: a snapshot there serves the next ones
            int shared = cache.sharedBoundary(prompt, mode);
            s.fed = runner.prefillWindows(s.state, shared > 0 ? Arrays.copyOf(prompt, shared + 1) : prompt);
            if (s.fed > 0) {
                windowPrefillDone = true;
                cache.offer(prompt, s.fed, s.state);
                cache.noteBoundaries(prompt, mode);
            }
        }
    }

    /**
     * Sequences without a state: a leader whose window prefill waited for its turn starts; a fork
     * copies its leader's state once it stands at the fork point (or starts alone if the leader
     * ended or went past it).
     */
    private void startWaiting() {
        for (Sequence s : running) {
            if (s.state != null || s.done) {
                continue;
            }
            Sequence l = s.leader;
            if (l == null) {
                start(s);
            } else if (!l.done && l.state != null && l.fed == l.forkAt && l.state.length() == l.forkAt) {
                s.state = runner.fork(l.state);
                s.fed = l.forkAt;
                s.cached = l.forkAt;
            } else if (l.done || l.state != null && l.fed > l.forkAt) {
                start(s);
            }
        }
    }

    /**
     * Moves waiting requests into free slots (their prompts are fed in chunks by the following
     * steps), an n &gt; 1 request only when all its choices fit.
     */
    private void admit() {
        while (true) {
            Queued next = waiting.peek();
            GenerationRequest r = next == null ? null : next.request();
            if (r == null || running.size() + 1 + r.forks().size() > limits.maxBatch()) {
                if (r != null && running.isEmpty()) { // can never fit (the API bounds n; this is a guard)
                    waiting.remove(next);
                    for (GenerationRequest q : group(r)) {
                        q.listener().onFinish(new TokenListener.Finish(FinishReason.ERROR, q.prompt().length, 0, "",
                                "n = " + (1 + r.forks().size()) + " exceeds the batch size " + limits.maxBatch()));
                    }
                    continue;
                }
                break;
            }
            waiting.remove(next); // not poll(): a request of higher priority may have arrived since peek()
            if (r.isCancelled()) {
                for (GenerationRequest q : group(r)) {
                    q.listener().onFinish(new TokenListener.Finish(FinishReason.CANCELLED, q.prompt().length, 0, "", null));
                }
                continue;
            }
            Sequence lead = new Sequence(r, null, runner.window(), runner.vocabSize());
            running.add(lead);   // started by startWaiting, below
            for (GenerationRequest f : r.forks()) {
                running.add(new Sequence(f, lead, runner.window(), runner.vocabSize()));
            }
            for (GenerationRequest q : group(r)) {
                q.listener().onStart();
            }
        }
        startWaiting();
        runningCount = running.size();
    }

    private void retire() {
        for (Iterator<Sequence> it = running.iterator(); it.hasNext(); ) {
            Sequence s = it.next();
            if (s.done) {
                if (s.state != null) {
                    s.state.close();
                }
                it.remove();
            }
        }
        runningCount = running.size();
    }
}

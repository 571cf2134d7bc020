package dev.moaserve.engine;

import dev.moaserve.model.DecodeMode;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/** A validated request as the engine sees it: prompt ids, sampling, and where the output goes. */
public final class GenerationRequest {
    private final String id;
    private final long[] prompt;
    private final SamplingParams params;
    private final TokenListener listener;
    private final long seed;
    private final long createdNanos;
    private final AtomicBoolean cancelled = new AtomicBoolean();
    private List<GenerationRequest> forks = List.of();
    private DecodeMode decodeMode = DecodeMode.EXACT;
    private int priority;

    public GenerationRequest(String id, long[] prompt, SamplingParams params, TokenListener listener) {
        this(id, prompt, params, listener, System.nanoTime());
    }

    /** {@code arrivalNanos}: when it arrived, on the engine's clock ({@link EngineClock}); its timeout counts from then. */
    public GenerationRequest(String id, long[] prompt, SamplingParams params, TokenListener listener, long arrivalNanos) {
        this.createdNanos = arrivalNanos;
        this.id = id;
        this.prompt = prompt;
        this.params = params;
        this.listener = listener;
        this.seed = params.seed() != null ? params.seed() : new java.security.SecureRandom().nextLong() >>> 1; // non-negative, as TGI reports seeds
    }

    public String id() {
        return id;
    }

    public long[] prompt() {
        return prompt;
    }

    public SamplingParams params() {
        return params;
    }

    public TokenListener listener() {
        return listener;
    }

    /** The seed actually used (the request's, or a random one). */
    public long seed() {
        return seed;
    }

    /**
     * n &gt; 1: the other choices of this request (same prompt, their own sampling). The scheduler
     * prefills the prompt once, for this request, and copies the state to each fork.
     */
    public GenerationRequest withForks(List<GenerationRequest> others) {
        this.forks = List.copyOf(others);
        return this;
    }

    /**
     * Its place in the queue when the batch is full: lower runs first (vLLM's meaning), ties in
     * arrival order. Running sequences are never preempted.
     */
    public GenerationRequest withPriority(int p) {
        this.priority = p;
        return this;
    }

    public int priority() {
        return priority;
    }

    /** Decodes this request (and its forks, which share its prompt state) in {@code mode}. */
    public GenerationRequest withDecodeMode(DecodeMode mode) {
        this.decodeMode = mode;
        return this;
    }

    public DecodeMode decodeMode() {
        return decodeMode;
    }

    public List<GenerationRequest> forks() {
        return forks;
    }

    /** Its arrival on the engine's clock. */
    public long createdNanos() {
        return createdNanos;
    }

    /** Asks the scheduler to drop this request; its slot is freed at the next iteration. */
    public void cancel() {
        cancelled.set(true);
    }

    public boolean isCancelled() {
        return cancelled.get();
    }
}

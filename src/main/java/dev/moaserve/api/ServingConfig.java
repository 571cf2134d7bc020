package dev.moaserve.api;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** The server's {@code moa.*} settings (application.properties, overridable by env vars: MOA_MAX_QUEUE …). */
@ConfigMapping(prefix = "moa")
public interface ServingConfig {
    /** Model directory; empty = the embedded model. */
    Optional<String> modelPath();

    /** Where weights and decode state live: auto (CUDA if DJL sees a GPU, else CPU), cpu, cuda, cuda:N. */
    @WithDefault("auto")
    String device();

    /** Precision of the matmuls and decode state: auto (float32 on CPU, float16 on CUDA), float32, float16. */
    @WithDefault("auto")
    String dtype();

    /**
     * On an AMD processor, MKL's kernels for the processor's instruction sets rather than its
     * generic ones (read where libtorch starts: dev.moaserve.model.MklKernels).
     */
    @WithDefault("true")
    boolean mklAmdKernels();

    /** Name the API reports and accepts; empty = the model's own name. */
    Optional<String> servedModelName();

    /**
     * Load libtorch and the model in the background while Quarkus starts (readiness turns UP
     * when done; a failed load exits the process); false: before the HTTP port opens.
     */
    @WithDefault("true")
    boolean loadInBackground();

    /** Most sequences decoded together in one step. */
    @WithDefault("64")
    int maxBatchSize();

    /**
     * Token budget of one iteration: every decoding sequence's token first, then prompt chunks
     * (at most one routed window each) until it is spent, so long prompts are prefilled over
     * several iterations while running streams keep getting tokens.
     */
    @WithDefault("512")
    int maxBatchedTokens();

    /**
     * Most prompt tokens a fresh exact-decoding prompt feeds in one full-forward call at admission
     * (whole routed windows; the rest goes through the steps under the token budget). That call
     * pauses the other streams for its duration, so this bounds the pause.
     */
    @WithDefault("4096")
    int maxPrefillTokens();

    /**
     * How waiting requests are admitted when the batch is full: {@code fcfs} (arrival order) or
     * {@code priority} (the request's {@code priority}, lower first, then arrival; running
     * sequences are never preempted).
     */
    @WithDefault("fcfs")
    String schedulingPolicy();

    /** Requests may ask for the routing of their text ({@code return_routing}); it costs nothing unless asked. */
    @WithDefault("true")
    boolean routingVisible();

    /** Which current-window rows a decode step recomputes: lazy (only those that can change) or all. */
    @WithDefault("lazy")
    String recompute();

    /**
     * How requests are decoded unless they ask otherwise: exact (the model's generation
     * semantics) or frozen (each position computed once, never revised: faster, approximate).
     */
    @WithDefault("exact")
    String decode();

    /** How /v1/embeddings pools an input's final hidden states: mean (over its tokens) or last (its last token). */
    @WithDefault("mean")
    String pooling();

    /** The decode modes a request may ask for with {@code moa_decode} (the default is always allowed). */
    @WithDefault("exact")
    List<String> decodeAllow();

    /**
     * Budget of the prefix-state cache: snapshots of decode states at routed-window boundaries,
     * reused by requests whose prompt starts with the same tokens (0 disables it).
     */
    @WithDefault("256M")
    io.quarkus.runtime.configuration.MemorySize prefixCacheBytes();

    /**
     * Streamed requests the server sends itself over loopback after loading, before it reports
     * ready, so the JIT has compiled the HTTP path and the engine's Java code before the first
     * client (0 = off; skipped in a native image and when the model loads in the foreground).
     */
    @WithDefault("64")
    int warmUpRequests();

    /**
     * Most prompts one completions request may carry (a list of strings or of token-id lists); each
     * is its own request to the engine, so each also takes a place in the queue.
     */
    @WithDefault("32")
    int maxPromptsPerRequest();

    /** Most requests waiting for a slot; beyond it requests get 429. */
    @WithDefault("256")
    int maxQueue();

    /** A request running longer than this ends with an error. */
    @WithDefault("300s")
    Duration requestTimeout();

    /** How long in-flight requests may run on after SIGTERM. */
    @WithDefault("20s")
    Duration shutdownGrace();

    /** Compiled structured-output constraints (JSON schemas, regexes, choices) kept for reuse. */
    @WithDefault("64")
    int structuredOutputCacheSize();

    /**
     * A constraint that takes longer to compile is refused (400); the deadline is checked inside
     * the compilation's loops, so it holds for every kind of constraint.
     */
    @WithDefault("2s")
    Duration structuredOutputCompileTimeout();

    /**
     * Most states of a compiled constraint (its deterministic automaton) and of every automaton
     * built on the way; a constraint over it is refused (400).
     */
    @WithDefault("200000")
    int structuredOutputMaxStates();

    /** Threads that compile constraints (a pool of their own, below decoding's priority). */
    @WithDefault("1")
    int structuredOutputCompileThreads();

    /** Compilations waiting for a thread; beyond it requests with a new constraint get 429. */
    @WithDefault("16")
    int structuredOutputCompileQueue();

    /** Bounds of {@code /v1/embeddings} and {@code /embed} (moa.embeddings.*). */
    Embeddings embeddings();

    interface Embeddings {
        /**
         * Most padded tokens (rows × the longest row) in one embeddings forward: what bounds the
         * memory a forward needs (docs/performance.md gives bytes per batched token). Raised to
         * the model's context length when below it.
         */
        @WithDefault("2048")
        int maxBatchedTokens();

        /** Most tokens in one request (OpenAI's bound is 300,000); over it: 400. */
        @WithDefault("300000")
        int maxRequestTokens();

        /** Most tokens waiting or in progress, all requests together; over it: 429. */
        @WithDefault("1200000")
        long maxQueuedTokens();
    }

    /**
     * More models this server may serve besides {@link #modelPath()} (the one loaded at start):
     * {@code name=path} entries (a model directory, or a shipped model's name) and directories
     * whose sub-directories are model directories (each named by its directory). Each is a
     * generator or an encoder by its config; unset: a one-model server.
     */
    Optional<List<String>> models();

    /**
     * Most bytes the loaded models may account for together (weights, state pool, caches at
     * their bounds; docs/configuration.md); a load beyond it first unloads the least recently
     * used idle model. Unset: no bound (nothing is unloaded to make room).
     */
    @WithName("models.memory-budget")
    Optional<io.quarkus.runtime.configuration.MemorySize> modelsMemoryBudget();

    /** Models never unloaded to make room or when idle (names as served). */
    @WithName("models.pinned")
    Optional<List<String>> modelsPinned();

    /** Models of the catalogue loaded at start besides moa.model-path (readiness waits for them). */
    @WithName("models.preload")
    Optional<List<String>> modelsPreload();

    /** Unload a model no request used for this long (unpinned ones). Unset: never. */
    @WithName("models.idle-unload")
    Optional<Duration> modelsIdleUnload();

    /**
     * A request for a model that is not loaded waits for its load (bounded by moa.request-timeout);
     * false: the load starts and the request gets 503 with Retry-After.
     */
    @WithName("models.wait-for-load")
    @WithDefault("true")
    boolean modelsWaitForLoad();

    /** Accepted Bearer keys; with neither these nor {@link #apiKeysFile()}: no authentication. */
    Optional<List<String>> apiKeys();

    /**
     * A file of accepted keys, one per line ({@code #} comments and blank lines ignored), read
     * again when it changes: a mounted Kubernetes Secret. Missing or empty at startup: the server
     * does not start.
     */
    Optional<String> apiKeysFile();

    /**
     * With keys set, {@code /metrics} and {@code /q/metrics} need a key too (default: open, as
     * vLLM and TGI leave them). Health probes always stay open: kubelet sends no headers.
     */
    @WithDefault("false")
    boolean protectMetrics();
}

package dev.moaserve.api;

import ai.djl.Device;
import dev.moaserve.api.protocol.ServedModel;
import dev.moaserve.engine.Embedder;
import dev.moaserve.engine.Engine;
import dev.moaserve.engine.LoadedModel;
import dev.moaserve.engine.Scheduler;
import dev.moaserve.engine.constraint.Constraints;
import dev.moaserve.model.ChatTemplate;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.DeviceChoice;
import dev.moaserve.model.Tokenizer;
import io.quarkus.runtime.ShutdownDelayInitiatedEvent;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.Set;

/**
 * The served model's life in the HTTP server: loads it at startup ({@link LoadedModel#load}),
 * answers what the routes ask of it, and drains it on shutdown.
 */
@ApplicationScoped
public class ModelService implements ServedModel {
    private static final Logger LOG = Logger.getLogger(ModelService.class);

    @Inject
    ServingConfig config;

    @Inject
    EngineMetrics metrics;

    private volatile LoadedModel loaded;
    private volatile boolean draining;
    private volatile boolean ready;
    private volatile boolean warming;
    /** Known only to this process's own warm-up requests. */
    private final String warmUpKey = java.util.UUID.randomUUID().toString();
    private volatile String failure;
    private final long created = System.currentTimeMillis() / 1000;
    private volatile DecodeMode decodeDefault = DecodeMode.EXACT;
    private volatile Set<DecodeMode> decodeAllowed = Set.of(DecodeMode.EXACT);

    /**
     * Loads in the background by default ({@code moa.load-in-background}): Quarkus binds the port
     * and answers liveness while libtorch (already initialising since {@code main}, see
     * {@link dev.moaserve.Main}) and the model load; readiness turns UP when the warm-up step is
     * done, generation requests get 503 until then. A model that cannot load stops the process
     * (exit 1) with one clear line, so a pod never stays live but never ready.
     */
    void start(@Observes StartupEvent event) {
        if (!config.loadInBackground()) {
            load();
            return;
        }
        Thread loader = new Thread(() -> {
            try {
                load();
            } catch (RuntimeException | Error e) {
                failure = e.getMessage() == null ? e.toString() : e.getMessage();
                LOG.errorf("cannot serve: %s", failure);
                LOG.debug("model load failure", e);
                io.quarkus.runtime.Quarkus.asyncExit(1);
            }
        }, "moa-model-load");
        loader.setDaemon(true);
        loader.start();
    }

    private void load() {
        Embedder.Pooling pooling = settings();
        Device device = DeviceChoice.resolve(config.device());
        Engine.Config engine = new Engine.Config(config.maxBatchSize(), config.maxBatchedTokens(), config.maxQueue(),
                config.requestTimeout().toNanos(), config.prefixCacheBytes().asLongValue(), config.recompute(),
                DeviceChoice.dtype(config.dtype(), device), config.maxPrefillTokens());
        LoadedModel.Spec spec = new LoadedModel.Spec(config.modelPath(), config.servedModelName(), device, engine, pooling,
                new Embedder.Limits(config.embeddings().maxBatchedTokens(), config.maxQueue(), config.embeddings().maxQueuedTokens()),
                config.structuredOutputCacheSize(), new Constraints.Limits(config.structuredOutputCompileThreads(),
                        config.structuredOutputCompileQueue(), config.structuredOutputCompileTimeout().toMillis(),
                        config.structuredOutputMaxStates()));
        try {
            loaded = LoadedModel.load(spec, metrics);
        } catch (Engine.PoolTooLargeException e) {
            throw new IllegalStateException(e.getMessage() + "; lower moa.max-batch-size (now " + config.maxBatchSize() + ")", e);
        }
        metrics.bind(loaded);
        if (loaded instanceof LoadedModel.Generator && config.warmUpRequests() > 0 && config.loadInBackground()
                && io.quarkus.runtime.ImageMode.current() == io.quarkus.runtime.ImageMode.JVM) {
            warming = true;
            try {
                HttpWarmUp.run(HttpWarmUp.loopbackUri(), warmUpKey, config.warmUpRequests());
            } finally {
                warming = false;
            }
        }
        ready = true;
    }

    /** The server is sending itself its warm-up requests: only they are admitted, and their request lines go to DEBUG. */
    boolean warming() {
        return warming;
    }

    /** A request carrying this process's warm-up key, while it warms up ({@link HttpWarmUp}). */
    boolean isWarmUp(String header) {
        return warming && header != null && java.security.MessageDigest.isEqual(
                header.getBytes(java.nio.charset.StandardCharsets.UTF_8), warmUpKey.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Generation may start for a request with this warm-up header (null for a client's): ready, or warming up and its own. */
    public boolean admits(String warmUpHeader) {
        return ready() || isWarmUp(warmUpHeader) && loaded != null;
    }

    /**
     * SIGTERM: Quarkus fires this first, before its HTTP graceful shutdown and before
     * {@link ShutdownEvent}, and waits for it, so the drain runs while connections are still open.
     * (Needs {@code quarkus.shutdown.delay-enabled=true}.)
     */
    void onShutdownStarted(@Observes ShutdownDelayInitiatedEvent event) {
        drain(config.shutdownGrace());
    }

    /** Any other stop (tests, a failed start): drains too; a no-op after {@link #onShutdownStarted}. */
    void stop(@Observes ShutdownEvent event) {
        drain(config.shutdownGrace());
    }

    /**
     * Graceful drain: readiness goes DOWN and new requests get 503 at once; running and queued
     * requests continue until {@code grace} ends, then are ended with an error event. Returns
     * when the scheduler has stopped.
     */
    public void drain(Duration grace) {
        ready = false;
        draining = true;
        LoadedModel m = loaded;
        if (m instanceof LoadedModel.Generator g && g.scheduler().accepting()) {
            LOG.infof("draining: %d running, %d waiting, grace %s", g.scheduler().runningCount(), g.scheduler().waitingCount(), grace);
            m.drain(grace);
            LOG.info("drained");
        } else if (m != null) {
            m.drain(grace);
        }
    }

    /** Why generation is not available yet: loading, or draining. */
    public String notReadyReason() {
        if (draining || generator() != null && !generator().scheduler().accepting()) {
            return "the server is shutting down";
        }
        return failure != null ? "the model failed to load: " + failure
                : warming ? "the model is loaded and still warming up; retry when /q/health/ready is UP"
                : "the model is still loading; retry when /q/health/ready is UP";
    }

    public boolean ready() {
        LoadedModel m = loaded;
        return ready && !draining && (m instanceof LoadedModel.Encoder || m instanceof LoadedModel.Generator g && g.scheduler().accepting());
    }

    /** A model is loaded (ready or draining). */
    public boolean loaded() {
        return loaded != null;
    }

    /** False for an encoder: it embeds, it does not generate. */
    public boolean generates() {
        return loaded instanceof LoadedModel.Generator;
    }

    /** The autoregressive model and its engine; null for an encoder or before loading. */
    private LoadedModel.Generator generator() {
        return loaded instanceof LoadedModel.Generator g ? g : null;
    }

    /** The autoregressive model served; null for an encoder or before loading. */
    public dev.moaserve.model.MoaModel model() {
        LoadedModel.Generator g = generator();
        return g == null ? null : g.model();
    }

    /** moa.request-timeout in nanoseconds (0: none). */
    public long requestTimeoutNanos() {
        return config.requestTimeout().toNanos();
    }

    /** Prompt log-probabilities (echo with logprobs). */
    public dev.moaserve.engine.PromptScorer scorer() {
        return generator().scorer();
    }

    /** Computes the routing of finished texts (return_routing). */
    public dev.moaserve.engine.RoutingWorker routing() {
        return generator().routing();
    }

    /** Structured output for this model's vocabulary: compiled constraints, cached. */
    public Constraints constraints() {
        return generator().constraints();
    }

    public Scheduler scheduler() {
        LoadedModel.Generator g = generator();
        return g == null ? null : g.scheduler();
    }

    /** Embeddings (POST /v1/embeddings) from the served model. */
    public Embedder embedder() {
        return loaded.embedder();
    }

    @Override
    public Tokenizer tokenizer() {
        return loaded.tokenizer();
    }

    @Override
    public int contextLength() {
        return loaded.contextLength();
    }

    @Override
    public ChatTemplate chatTemplate() {
        return generator().chatTemplate();
    }

    /** Where the weights and the decode state live: {@code cpu} or {@code cuda:N}. */
    public String device() {
        LoadedModel m = loaded;
        return m == null ? "" : m.deviceName();
    }

    @Override
    public String name() {
        LoadedModel m = loaded;
        return m == null ? null : m.name();
    }

    /** moa.decode, moa.decode-allow and moa.pooling, checked before anything loads: a wrong name stops startup with one line. */
    private Embedder.Pooling settings() {
        if (!java.util.List.of("fcfs", "priority").contains(config.schedulingPolicy())) {
            throw new IllegalStateException("moa.scheduling-policy must be fcfs or priority, got '" + config.schedulingPolicy() + "'");
        }
        Embedder.Pooling pooling;
        try {
            pooling = Embedder.Pooling.parse(config.pooling());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("moa.pooling: " + e.getMessage(), e);
        }
        try {
            decodeDefault = DecodeMode.parse(config.decode());
            java.util.EnumSet<DecodeMode> allowed = java.util.EnumSet.of(decodeDefault);
            for (String m : config.decodeAllow()) {
                if (!m.isBlank()) {
                    allowed.add(DecodeMode.parse(m));
                }
            }
            decodeAllowed = java.util.Collections.unmodifiableSet(allowed);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("moa.decode / moa.decode-allow: " + e.getMessage(), e);
        }
        return pooling;
    }

    @Override
    public boolean routingVisible() {
        return config.routingVisible();
    }

    @Override
    public boolean priorityScheduling() {
        return "priority".equals(config.schedulingPolicy());
    }

    /** How requests are decoded unless they ask (moa.decode). */
    @Override
    public DecodeMode decodeDefault() {
        return decodeDefault;
    }

    /** The decode modes a request may ask for (moa.decode-allow, plus the default). */
    @Override
    public Set<DecodeMode> decodeAllowed() {
        return decodeAllowed;
    }

    public long created() {
        return created;
    }
}

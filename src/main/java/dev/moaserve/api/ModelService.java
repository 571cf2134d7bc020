package dev.moaserve.api;

import dev.moaserve.api.protocol.ServedModel;
import dev.moaserve.engine.Scheduler;
import dev.moaserve.model.Tokenizer;
import dev.moaserve.model.ChatTemplate;
import dev.moaserve.model.DeviceChoice;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.engine.Embedder;
import dev.moaserve.engine.Engine;
import dev.moaserve.model.EncoderModel;
import dev.moaserve.model.MoaModel;
import io.quarkus.runtime.ShutdownDelayInitiatedEvent;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.nio.file.Path;

/**
 * Owns the served model and its scheduler: loads the model at startup, runs one warm-up step
 * (readiness waits for it), and drains on shutdown.
 */
@ApplicationScoped
public class ModelService implements ServedModel {
    private static final Logger LOG = Logger.getLogger(ModelService.class);

    @Inject
    ServingConfig config;

    @Inject
    EngineMetrics metrics;

    private volatile MoaModel model;
    private volatile EncoderModel encoder;
    private volatile boolean draining;
    private volatile Engine engine;
    private volatile Embedder embedder;
    private Embedder.Pooling pooling;
    private volatile Scheduler scheduler;
    private volatile ChatTemplate chatTemplate;
    private volatile String name;
    private volatile ai.djl.Device device;
    private volatile boolean ready;
    private volatile dev.moaserve.engine.constraint.Constraints constraints;
    private volatile String failure;
    private final long created = System.currentTimeMillis() / 1000;
    private volatile DecodeMode decodeDefault = DecodeMode.EXACT;
    private volatile java.util.Set<DecodeMode> decodeAllowed = java.util.Set.of(DecodeMode.EXACT);

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
        settings();
        long t0 = System.nanoTime();
        dev.moaserve.model.Djl.engine(); // libtorch init (and first-start extraction) is not model loading
        long t1 = System.nanoTime();
        ai.djl.Device device = DeviceChoice.resolve(config.device());
        ai.djl.ndarray.types.DataType dtype = DeviceChoice.dtype(config.dtype(), device);
        if (config.modelPath().map(p -> EncoderModel.namesEmbedded(p) || EncoderModel.isEncoder(Path.of(p))).orElse(false)) {
            loadEncoder(config.modelPath().get(), device, t0, t1);
            return;
        }
        model = config.modelPath().map(p -> MoaModel.load(Path.of(p), device)).orElseGet(() -> MoaModel.loadEmbedded(device));
        this.device = device;
        long t2 = System.nanoTime();
        requireTokenizer(model.tokenizer(), config.modelPath().orElse(model.name()));
        name = config.servedModelName().orElse(model.name());
        chatTemplate = ChatTemplate.parse(model.chatTemplate(), model.name() + "/chat_template.json");
        try {
            engine = Engine.start(model, new Engine.Config(config.maxBatchSize(), config.maxBatchedTokens(), config.maxQueue(),
                    config.requestTimeout().toNanos(), config.prefixCacheBytes().asLongValue(), config.recompute(), dtype), metrics);
        } catch (Engine.PoolTooLargeException e) {
            throw new IllegalStateException(e.getMessage() + "; lower moa.max-batch-size (now " + config.maxBatchSize() + ")", e);
        }
        scheduler = engine.scheduler();
        embedder = engine.embedder(model.weights(), pooling, embeddingLimits());
        MoaModel m = model;
        constraints = new dev.moaserve.engine.constraint.Constraints(
                () -> dev.moaserve.engine.constraint.Vocabulary.of(m.tokenizer(), m.config().numTokens()),
                config.structuredOutputCacheSize(), new dev.moaserve.engine.constraint.Constraints.Limits(
                        config.structuredOutputCompileThreads(), config.structuredOutputCompileQueue(),
                        config.structuredOutputCompileTimeout().toMillis(), config.structuredOutputMaxStates()));
        metrics.bind(this);
        ready = true;
        LOG.infof("model %s ready on %s, %s, %d ms after JVM start: engine %.0f ms, load %.0f ms, warm-up %.0f ms; "
                        + "%d parameters, state %d bytes per sequence, pool %d bytes (%d slots), prefix cache up to %d bytes",
                name, DeviceChoice.describe(device), dtype.name().toLowerCase(java.util.Locale.ROOT),
                java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime(), (t1 - t0) / 1e6,
                (t2 - t1) / 1e6, (System.nanoTime() - t2) / 1e6, model.weights().parameterCount(),
                engine.bytesPerSequence(), engine.bytesPerSequence() * config.maxBatchSize(), config.maxBatchSize(),
                config.prefixCacheBytes().asLongValue());
    }

    /** Serving reads and writes text: a model directory without a tokenizer stops startup with one line. */
    private static void requireTokenizer(Tokenizer tokenizer, String dir) {
        if (tokenizer == null) {
            throw new IllegalStateException("model directory " + dir + " has no tokenizer: serving needs vocab.json "
                    + "(character vocabulary) or tokenizer.json (Hugging Face)");
        }
    }

    private Embedder.Limits embeddingLimits() {
        return new Embedder.Limits(config.embeddings().maxBatchedTokens(), config.maxQueue(), config.embeddings().maxQueuedTokens());
    }

    /** An encoder serves embeddings only: no decoder, no scheduler; generation routes answer 400. */
    private void loadEncoder(String path, ai.djl.Device device, long t0, long t1) {
        EncoderModel e = EncoderModel.namesEmbedded(path) ? EncoderModel.loadEmbedded(device)
                : EncoderModel.load(Path.of(path), device);
        requireTokenizer(e.tokenizer(), path);
        encoder = e;
        this.device = device;
        name = config.servedModelName().orElse(e.name());
        embedder = Embedder.of(e.weights(), embeddingLimits());
        metrics.bind(this);
        ready = true;
        LOG.infof("encoder %s ready on %s, %d ms after JVM start: engine %.0f ms, load %.0f ms; %d parameters, "
                        + "embeddings of %d dimensions (mean pooling)", name, DeviceChoice.describe(device),
                java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime(), (t1 - t0) / 1e6,
                (System.nanoTime() - t1) / 1e6, e.weights().parameterCount(), embedder.dimensions());
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
    public void drain(java.time.Duration grace) {
        ready = false;
        draining = true;
        Scheduler s = scheduler;
        if (s != null && s.accepting()) {
            LOG.infof("draining: %d running, %d waiting, grace %s", s.runningCount(), s.waitingCount(), grace);
            s.drain(grace.toNanos());
            LOG.info("drained");
        }
        Embedder e = embedder;
        if (e != null) {
            e.close();
        }
        dev.moaserve.engine.constraint.Constraints c = constraints;
        if (c != null) {
            c.close();
        }
    }

    /** Why generation is not available yet: loading, or draining. */
    public String notReadyReason() {
        if (draining || scheduler != null && !scheduler.accepting()) {
            return "the server is shutting down";
        }
        return failure != null ? "the model failed to load: " + failure
                : "the model is still loading; retry when /q/health/ready is UP";
    }

    public boolean ready() {
        return ready && !draining && (encoder != null || scheduler != null && scheduler.accepting());
    }

    /** A model is loaded (ready or draining). */
    public boolean loaded() {
        return model != null || encoder != null;
    }

    /** False for an encoder: it embeds, it does not generate. */
    public boolean generates() {
        return model != null;
    }

    /** The autoregressive model served; null for an encoder (see {@link #generates}). */
    public MoaModel model() {
        return model;
    }

    /** Structured output for this model's vocabulary: compiled constraints, cached. */
    public dev.moaserve.engine.constraint.Constraints constraints() {
        return constraints;
    }

    public Scheduler scheduler() {
        return scheduler;
    }

    /** Embeddings (POST /v1/embeddings) from the served model. */
    public Embedder embedder() {
        return embedder;
    }

    @Override
    public Tokenizer tokenizer() {
        return model != null ? model.tokenizer() : encoder.tokenizer();
    }

    @Override
    public int contextLength() {
        return model != null ? model.config().seqLen() : encoder.weights().config().seqLen();
    }

    /** Parameters of the served model. */
    public long parameterCount() {
        return model != null ? model.weights().parameterCount() : encoder.weights().parameterCount();
    }

    @Override
    public ChatTemplate chatTemplate() {
        return chatTemplate;
    }

    /** Where the weights and the decode state live, e.g. {@code cpu()} or {@code gpu(0)}. */
    public String device() {
        ai.djl.Device d = device;
        return d == null ? "" : d.isGpu() ? "cuda:" + d.getDeviceId() : "cpu";
    }

    @Override
    public String name() {
        return name;
    }

    /** moa.decode, moa.decode-allow and moa.pooling, checked before anything loads: a wrong name stops startup with one line. */
    private void settings() {
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
    }

    /** How requests are decoded unless they ask (moa.decode). */
    @Override
    public DecodeMode decodeDefault() {
        return decodeDefault;
    }

    /** The decode modes a request may ask for (moa.decode-allow, plus the default). */
    @Override
    public java.util.Set<DecodeMode> decodeAllowed() {
        return decodeAllowed;
    }

    public long created() {
        return created;
    }
}

package dev.moaserve.api;

import ai.djl.Device;
import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.engine.Embedder;
import dev.moaserve.engine.Engine;
import dev.moaserve.engine.LoadedModel;
import dev.moaserve.engine.constraint.Constraints;
import dev.moaserve.model.DeviceChoice;
import dev.moaserve.model.Tokenizer;
import io.quarkus.runtime.ShutdownDelayInitiatedEvent;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Duration;

/**
 * The served model's life in the HTTP server: loads it at startup ({@link LoadedModel#load}), says
 * whether it is ready, admits requests to it, and drains it on shutdown. What requests are checked
 * against is {@link #served}: the loaded model and {@link ServingSettings}.
 */
@ApplicationScoped
public class ModelService {
    private static final Logger LOG = Logger.getLogger(ModelService.class);

    @Inject
    ServingConfig config;

    @Inject
    EngineMetrics metrics;

    private volatile LoadedModel loaded;
    private volatile ServedView served;
    private volatile boolean draining;
    private volatile boolean ready;
    private volatile String failure;
    private final HttpWarmUp.Gate warmUp = new HttpWarmUp.Gate();
    private final long created = System.currentTimeMillis() / 1000;

    /**
     * Loads in the background by default ({@code moa.load-in-background}): Quarkus binds the port
     * and answers liveness while libtorch (already starting since {@code main}, see
     * {@link dev.moaserve.Main}) and the model load; readiness turns UP after the engine's first
     * step and the HTTP warm-up; requests get 503 until then. A model that cannot load stops the
     * process (exit 1) with one clear line, so a pod never stays live but never ready.
     */
    void start(@Observes StartupEvent event) {
        if (!config.loadInBackground()) {
            load();
            return;
        }
        Thread loader = new Thread(this::loadOrExit, "moa-model-load");
        loader.setDaemon(true);
        loader.start();
    }

    private void loadOrExit() {
        try {
            load();
        } catch (RuntimeException | Error e) {
            failure = e.getMessage() == null ? e.toString() : e.getMessage();
            LOG.errorf("cannot serve: %s", failure);
            LOG.debug("model load failure", e);
            io.quarkus.runtime.Quarkus.asyncExit(1);
        }
    }

    private void load() {
        ServingSettings settings = ServingSettings.of(config);
        Device device = DeviceChoice.resolve(config.device());
        Engine.Config engine = new Engine.Config(config.maxBatchSize(), config.maxBatchedTokens(), config.maxQueue(),
                config.requestTimeout().toNanos(), config.prefixCacheBytes().asLongValue(), config.recompute(),
                DeviceChoice.dtype(config.dtype(), device), config.maxPrefillTokens());
        LoadedModel.Spec spec = new LoadedModel.Spec(config.modelPath(), config.servedModelName(), device, engine,
                settings.pooling(), new Embedder.Limits(config.embeddings().maxBatchedTokens(), config.maxQueue(),
                config.embeddings().maxQueuedTokens()), config.structuredOutputCacheSize(), new Constraints.Limits(
                config.structuredOutputCompileThreads(), config.structuredOutputCompileQueue(),
                config.structuredOutputCompileTimeout().toMillis(), config.structuredOutputMaxStates()));
        try {
            LoadedModel m = LoadedModel.load(spec, metrics);
            served = new ServedView(m, settings);
            loaded = m;
        } catch (Engine.PoolTooLargeException e) {
            throw new IllegalStateException(e.getMessage() + "; lower moa.max-batch-size (now " + config.maxBatchSize() + ")", e);
        }
        if (loaded instanceof LoadedModel.Generator && config.warmUpRequests() > 0 && config.loadInBackground()
                && io.quarkus.runtime.ImageMode.current() == io.quarkus.runtime.ImageMode.JVM) {
            warmUp.run(config.warmUpRequests());
        }
        metrics.bind(loaded); // after the warm-up: the served metrics count clients' requests only
        ready = true;
    }

    /** A request carrying this process's warm-up key while it warms up ({@link HttpWarmUp}). */
    boolean isWarmUp(String header) {
        return warmUp.admits(header);
    }

    /**
     * The generating model a request to {@code what} (e.g. "generate text") may use now: 503 (with
     * Retry-After) while loading, warming up or draining, 400 for an encoder.
     */
    LoadedModel.Generator admit(RoutingContext rc, String what) {
        if (!ready() && !(isWarmUp(rc.request().getHeader(HttpWarmUp.HEADER)) && loaded != null)) {
            throw new ApiException(503, "server_error", notReadyReason(), null, "unavailable");
        }
        if (!(loaded instanceof LoadedModel.Generator g)) {
            throw new ApiException(400, "invalid_request_error", "the model '" + name() + "' is an encoder (moa_encoder): it "
                    + "computes embeddings (POST /v1/embeddings) and does not " + what, "model", "model_not_generative");
        }
        return g;
    }

    /**
     * SIGTERM: Quarkus fires {@link ShutdownDelayInitiatedEvent} before its HTTP graceful shutdown
     * and waits for it (quarkus.shutdown.delay-enabled); any other stop drains on {@link ShutdownEvent}.
     */
    void onShutdownStarted(@Observes ShutdownDelayInitiatedEvent event) {
        drain(config.shutdownGrace());
    }

    void stop(@Observes ShutdownEvent event) {
        drain(config.shutdownGrace()); // a no-op after onShutdownStarted
    }

    /**
     * Graceful drain: readiness goes DOWN and new requests get 503 at once; running and queued
     * requests continue until {@code grace} ends, then are ended with an error event.
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

    /** Why requests are not served yet: loading, warming up, or draining. */
    public String notReadyReason() {
        if (draining || generator() != null && !generator().scheduler().accepting()) {
            return "the server is shutting down";
        }
        return failure != null ? "the model failed to load: " + failure
                : warmUp.warming() ? "the model is loaded and still warming up; retry when /q/health/ready is UP"
                : "the model is still loading; retry when /q/health/ready is UP";
    }

    public boolean ready() {
        LoadedModel m = loaded;
        return ready && !draining && (m instanceof LoadedModel.Encoder || m instanceof LoadedModel.Generator g && g.scheduler().accepting());
    }

    /** The loaded model (ready or draining); null while it loads. */
    public LoadedModel loaded() {
        return loaded;
    }

    /** The autoregressive model and its engine; null for an encoder or before loading. */
    public LoadedModel.Generator generator() {
        return loaded instanceof LoadedModel.Generator g ? g : null;
    }

    public long created() {
        return created;
    }

    /** What requests are parsed and rendered against (null while loading). */
    ServedView served() {
        return served;
    }

    /** The served model's id (null while loading). */
    public String name() {
        LoadedModel m = loaded;
        return m == null ? null : m.name();
    }

    public Tokenizer tokenizer() {
        return loaded.tokenizer();
    }

    /** Prompt plus completion tokens at most. */
    public int contextLength() {
        return loaded.contextLength();
    }
}

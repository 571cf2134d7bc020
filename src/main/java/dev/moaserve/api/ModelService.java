package dev.moaserve.api;

import ai.djl.Device;
import dev.moaserve.engine.ComputeLoop;
import dev.moaserve.engine.Embedder;
import dev.moaserve.engine.Engine;
import dev.moaserve.engine.LoadedModel;
import dev.moaserve.engine.RequestFailure;
import dev.moaserve.engine.constraint.Constraints;
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
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The served models' life in the HTTP server: the catalogue ({@link ModelCatalogue}), loaded at
 * startup (the start model and {@code moa.models.preload}) and on demand within the budget
 * ({@link ModelResidency}); whether the server is ready; the drain on shutdown. Requests reach a
 * model through {@link ModelDoor}. Every model's engine takes turns on one compute thread
 * ({@link ComputeLoop}). The no-argument accessors ({@link #loaded}, {@link #name}, …) read the
 * start model.
 */
@ApplicationScoped
public class ModelService {
    private static final Logger LOG = Logger.getLogger(ModelService.class);

    @Inject
    ServingConfig config;

    @Inject
    EngineMetrics metrics;

    private volatile ModelResidency residency;
    private volatile ModelSlot start;
    private volatile ServingSettings settings;
    private volatile ComputeLoop compute;
    private volatile boolean draining;
    private volatile boolean started; // the start models are loaded (warm-up may follow)
    private volatile boolean ready;
    private volatile String failure;
    private final HttpWarmUp.Gate warmUp = new HttpWarmUp.Gate();
    private final long created = System.currentTimeMillis() / 1000;

    /**
     * Loads in the background by default ({@code moa.load-in-background}): Quarkus binds the port
     * and answers liveness while libtorch (already starting since {@code main}, see
     * {@link dev.moaserve.Main}) and the model load; readiness turns UP after the engine's first
     * step and the HTTP warm-up; requests get 503 until then. A start model that cannot load stops
     * the process (exit 1) with one clear line, so a pod never stays live but never ready.
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
        settings = ServingSettings.of(config);
        Device device = DeviceChoice.resolve(config.device());
        List<ModelCatalogue.Entry> entries = ModelCatalogue.of(config);
        Set<String> pinned = names(config.modelsPinned(), entries, "moa.models.pinned");
        Set<String> preload = names(config.modelsPreload(), entries, "moa.models.preload");
        ModelResidency r = new ModelResidency(config.modelsMemoryBudget().map(m -> m.asLongValue()).orElse(Long.MAX_VALUE));
        List<ModelSlot> slots = new ArrayList<>();
        for (ModelCatalogue.Entry e : entries) {
            slots.add(new ModelSlot(e, pinned.contains(e.name()), spec(config, settings, e, device), r));
        }
        EarlyStart early = EarlyStart.claim();
        compute = early != null ? early.compute() : ComputeLoop.start("moa-engine", true);
        start = slots.get(0);
        r.start(slots, new Loading(early), config.modelsIdleUnload().orElse(null));
        residency = r;
        List<ModelSlot> atStart = new ArrayList<>();
        atStart.add(start);
        slots.stream().filter(s -> s != start && preload.contains(s.name)).forEach(atStart::add);
        for (ModelSlot s : atStart) {
            if (s.status == ModelSlot.Status.FAILED) {
                throw new IllegalStateException(s.name + ": " + s.failure);
            }
            try {
                r.load(s, Duration.ZERO).join();
            } catch (java.util.concurrent.CompletionException e) {
                Throwable cause = RequestFailure.unwrap(e);
                if (cause instanceof Engine.PoolTooLargeException) {
                    throw new IllegalStateException(cause.getMessage() + "; lower moa.max-batch-size (now " + config.maxBatchSize() + ")", cause);
                }
                throw cause instanceof RuntimeException re ? re : new IllegalStateException(cause);
            }
        }
        started = true;
        if (start.model instanceof LoadedModel.Generator && config.warmUpRequests() > 0 && config.loadInBackground()
                && io.quarkus.runtime.ImageMode.current() == io.quarkus.runtime.ImageMode.JVM) {
            warmUp.run(config.warmUpRequests());
        }
        for (ModelSlot s : atStart) {
            s.meters.bind(s.model); // after the warm-up: the served metrics count clients' requests only
        }
        ready = true;
    }

    /** What the residency's loads do here: build a model from the settings, then show it in the metrics. */
    private final class Loading implements ModelResidency.Loading {
        private EarlyStart early; // the start model's load begun in main, taken by its first load

        Loading(EarlyStart early) {
            this.early = early;
        }

        @Override
        public LoadedModel load(ModelSlot slot) {
            EngineMetrics.ModelMeters meters = metrics.forModel(slot.name);
            LoadedModel m = null;
            if (early != null && slot == start) {
                m = early.take(slot.spec, meters);
                early = null;
            }
            if (m == null) {
                m = LoadedModel.load(slot.spec, meters, compute);
            }
            slot.meters = meters;
            slot.view = new ServedView(m, settings);
            return m;
        }

        @Override
        public void loaded(ModelSlot slot) {
            if (started) { // a start model is bound after the warm-up
                slot.meters.bind(slot.model);
            }
        }

        @Override
        public void unloading(ModelSlot slot) {
            slot.meters.unbind();
        }
    }

    /** What loading the catalogue's entry {@code e} reads from the settings. */
    static LoadedModel.Spec spec(ServingConfig config, ServingSettings settings, ModelCatalogue.Entry e, Device device) {
        Engine.Config engine = new Engine.Config(config.maxBatchSize(), config.maxBatchedTokens(), config.maxQueue(),
                config.requestTimeout().toNanos(), config.prefixCacheBytes().asLongValue(), config.recompute(),
                DeviceChoice.dtype(config.dtype(), device), config.maxPrefillTokens());
        return new LoadedModel.Spec(e.path(), Optional.of(e.name()), device, engine,
                settings.pooling(), new Embedder.Limits(config.embeddings().maxBatchedTokens(), config.maxQueue(),
                config.embeddings().maxQueuedTokens()), config.structuredOutputCacheSize(), new Constraints.Limits(
                config.structuredOutputCompileThreads(), config.structuredOutputCompileQueue(),
                config.structuredOutputCompileTimeout().toMillis(), config.structuredOutputMaxStates()));
    }

    /** Names a setting lists, each one the catalogue has (else startup stops). */
    private static Set<String> names(Optional<List<String>> listed, List<ModelCatalogue.Entry> entries, String setting) {
        Set<String> known = new HashSet<>();
        entries.forEach(e -> known.add(e.name()));
        Set<String> out = new HashSet<>();
        for (String n : listed.orElse(List.of())) {
            if (n.isBlank()) {
                continue;
            }
            if (!known.contains(n.trim())) {
                throw new IllegalStateException(setting + ": no model '" + n.trim() + "' in the catalogue " + known);
            }
            out.add(n.trim());
        }
        return out;
    }

    /** A request carrying this process's warm-up key while it warms up ({@link HttpWarmUp}). */
    boolean isWarmUp(String header) {
        return warmUp.admits(header);
    }

    /** How long a request waits for its model's load (and the load for room): moa.request-timeout, or 5 minutes without one. */
    Duration roomWait() {
        Duration t = config.requestTimeout();
        return t.isZero() || t.isNegative() ? Duration.ofMinutes(5) : t;
    }

    /** Starts loading a model (operators' {@code POST /v1/models/load}); completes when it is loaded. */
    CompletableFuture<Void> load(ModelSlot slot) {
        return residency.load(slot, roomWait());
    }

    /** Unloads a model once the requests that hold it end (operators' {@code POST /v1/models/unload}). */
    CompletableFuture<Void> unload(ModelSlot slot) {
        return residency.unload(slot, roomWait());
    }

    /** Where the models' loads and leases are decided (null before startup read the settings). */
    ModelResidency residency() {
        return residency;
    }

    /** The model loaded at start, which serves requests that name none (null before startup read the settings). */
    ModelSlot startSlot() {
        return start;
    }

    /** The models loaded at start are loaded (the HTTP warm-up may still run). */
    boolean started() {
        return started;
    }

    /** The catalogue's models; empty before startup read the settings. */
    List<ModelSlot> models() {
        ModelResidency r = residency;
        return r == null ? List.of() : r.slots();
    }

    ModelSlot model(String name) {
        ModelResidency r = residency;
        return r == null ? null : r.slot(name);
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
     * requests of every model continue until {@code grace} ends, then are ended with an error event.
     */
    public synchronized void drain(Duration grace) {
        ready = false;
        if (draining) {
            return;
        }
        draining = true;
        ModelResidency r = residency;
        if (r == null) {
            return;
        }
        int running = 0;
        int waiting = 0;
        for (ModelSlot s : r.slots()) {
            if (s.model instanceof LoadedModel.Generator g) {
                running += g.scheduler().runningCount();
                waiting += g.scheduler().waitingCount();
            }
        }
        LOG.infof("draining: %d running, %d waiting, grace %s", running, waiting, grace);
        r.drainAll(grace);
        r.close();
        compute.close(1_000); // every work on it is over once drained
        LOG.info("drained");
    }

    /** Why requests are not served yet: loading, warming up, or draining. */
    public String notReadyReason() {
        if (draining) {
            return "the server is shutting down";
        }
        return failure != null ? "the model failed to load: " + failure
                : warmUp.warming() ? "the model is loaded and still warming up; retry when /q/health/ready is UP"
                : "the model is still loading; retry when /q/health/ready is UP";
    }

    public boolean ready() {
        return ready && !draining;
    }

    /** The start model (ready or draining); null while it loads or after it was unloaded. */
    public LoadedModel loaded() {
        ModelSlot s = start;
        return s == null ? null : s.model;
    }

    /** The start model if it generates; null for an encoder or before loading. */
    public LoadedModel.Generator generator() {
        return loaded() instanceof LoadedModel.Generator g ? g : null;
    }

    public long created() {
        return created;
    }

    /** The start model's name (null before the settings are read). */
    public String name() {
        ModelSlot s = start;
        return s == null ? null : s.name;
    }

    public Tokenizer tokenizer() {
        return loaded().tokenizer();
    }

    /** The start model's prompt plus completion tokens at most. */
    public int contextLength() {
        return start.contextLength;
    }
}

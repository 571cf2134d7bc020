package dev.moaserve.api;

import ai.djl.Device;
import dev.moaserve.engine.ComputeLoop;
import dev.moaserve.engine.EngineStats;
import dev.moaserve.engine.LoadedModel;
import dev.moaserve.model.DeviceChoice;
import dev.moaserve.model.ModelLocation;
import dev.moaserve.model.MoaModel;
import io.quarkus.runtime.configuration.DurationConverter;
import io.quarkus.runtime.configuration.MemorySize;
import io.quarkus.runtime.configuration.MemorySizeConverter;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.net.URL;
import java.util.concurrent.CompletableFuture;

/**
 * The start model's load, begun by {@code main} beside Quarkus' boot instead of after it: the
 * model is read, its step program compiled and its first step run while Quarkus starts on the
 * other core, so readiness follows the HTTP server's start instead of adding to it.
 *
 * <p>Quarkus' configuration does not exist yet when {@code main} runs, so the settings are read
 * the way Quarkus reads them (system properties, environment, application.properties, the
 * profile) into the same {@link ServingConfig}. The result is only a head start: when
 * {@link ModelService} loads its start model it {@link #take}s this one only if it was built from
 * exactly the same {@link LoadedModel.Spec} (everything a load reads); otherwise it frees it and
 * loads as it always does, so a setting read differently here costs time, never correctness.
 */
public final class EarlyStart {
    private static final Logger LOG = Logger.getLogger(EarlyStart.class);
    private static volatile EarlyStart begun;

    private final ComputeLoop compute;
    private final LoadedModel.Spec spec;
    private final Relay stats = new Relay();
    private final CompletableFuture<LoadedModel> model = new CompletableFuture<>();

    private EarlyStart(ComputeLoop compute, LoadedModel.Spec spec) {
        this.compute = compute;
        this.spec = spec;
    }

    /**
     * Starts libtorch and loads the start model (main's background thread): the settings and the
     * model's files are read on this thread while libtorch starts on another, then the model loads.
     * Never throws: a failure here is left for the server's own load to meet and report.
     */
    public static void begin() {
        JdkNatives.link(); // before libtorch's load holds the dynamic loader's lock
        // a failure is left to the model loader, which tries again and fails with a clear line
        CompletableFuture<Void> libtorch = CompletableFuture.runAsync(dev.moaserve.model.Djl::engine,
                dev.moaserve.model.DaemonThreads.named("moa-libtorch"));
        try {
            ServingConfig config = readConfig(System.getProperty("quarkus.profile",
                    System.getenv().getOrDefault("QUARKUS_PROFILE", "prod")));
            ModelCatalogue.Entry entry = ModelCatalogue.start(config);
            MoaModel.Files files = readFiles(ModelLocation.of(entry.path()));
            try {
                libtorch.join();
            } catch (RuntimeException e) {
                return;
            }
            Device device = DeviceChoice.resolve(config.device());
            EarlyStart e = new EarlyStart(ComputeLoop.start("moa-engine", true),
                    ModelService.spec(config, ServingSettings.of(config), entry, device));
            begun = e;
            try {
                e.model.complete(LoadedModel.load(e.spec, e.stats, e.compute, files));
            } catch (RuntimeException | Error failure) {
                e.model.completeExceptionally(failure);
            }
        } catch (RuntimeException | Error e) {
            // the settings could not be read here: the server's own load runs after the boot, as before
            LOG.warnf("the start model loads after Quarkus' boot: its settings could not be read early (%s)", e.toString());
            LOG.debug("no early start", e);
        }
    }

    /** A generator's files, read while libtorch starts; null for an encoder, or files that do not read (the load reports it). */
    private static MoaModel.Files readFiles(ModelLocation where) {
        if (where.encoder()) {
            return null;
        }
        try {
            return MoaModel.read(where.source(), where.name());
        } catch (RuntimeException e) {
            LOG.debugf("the start model's files were not read early: %s", e.toString());
            return null;
        }
    }

    /** The early start main began, if any, handed over once (to the server's model service). */
    static synchronized EarlyStart claim() {
        EarlyStart e = begun;
        begun = null;
        return e;
    }

    /** The compute thread the early load's engine runs on: the server's one compute loop from then on. */
    ComputeLoop compute() {
        return compute;
    }

    /**
     * The model loaded early, if it was loaded from {@code wanted} (waits for its load to finish),
     * its engine now reporting to {@code meters}; null when it was loaded from another spec (then
     * freed) or its load failed.
     */
    LoadedModel take(LoadedModel.Spec wanted, EngineStats meters) {
        LoadedModel m;
        try {
            m = model.join();
        } catch (RuntimeException e) {
            LOG.debugf("early load failed; loading again: %s", e.toString());
            return null;
        }
        if (!spec.equals(wanted)) {
            LOG.infof("the model loaded beside Quarkus' boot was read with other settings than the server's; loading it again");
            LOG.debugf("early: %s; the server's: %s", spec, wanted);
            m.free();
            return null;
        }
        stats.to = meters;
        LOG.debug("the start model was loaded beside Quarkus' boot");
        return m;
    }

    /** The settings as Quarkus will read them: system properties, environment, application.properties, under {@code profile}. */
    static ServingConfig readConfig(String profile) {
        SmallRyeConfigBuilder b = new SmallRyeConfigBuilder().addDefaultSources().withProfile(profile)
                .withConverter(java.time.Duration.class, 200, new DurationConverter())
                .withConverter(MemorySize.class, 200, new MemorySizeConverter()) // Quarkus' forms: "300s", "256M"
                .withMapping(ServingConfig.class).withValidateUnknown(false);
        URL properties = Thread.currentThread().getContextClassLoader().getResource("application.properties");
        if (properties != null) {
            try {
                b.withSources(new PropertiesConfigSource(properties, 250));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        SmallRyeConfig config = b.build();
        return config.getConfigMapping(ServingConfig.class);
    }

    /** Forwards the engine's observations to the meters the server gives it once it takes the model. */
    private static final class Relay implements EngineStats {
        volatile EngineStats to = EngineStats.NONE;

        @Override
        public void batch(int sequences) {
            to.batch(sequences);
        }

        @Override
        public void firstToken(double seconds) {
            to.firstToken(seconds);
        }

        @Override
        public void interToken(double seconds) {
            to.interToken(seconds);
        }

        @Override
        public void finished(String reason, int promptTokens, int completionTokens, double seconds) {
            to.finished(reason, promptTokens, completionTokens, seconds);
        }

        @Override
        public void ended(String outcome) {
            to.ended(outcome);
        }
    }
}

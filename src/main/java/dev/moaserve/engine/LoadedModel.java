package dev.moaserve.engine;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.moaserve.engine.constraint.Constraints;
import dev.moaserve.engine.constraint.Vocabulary;
import dev.moaserve.model.ChatTemplate;
import dev.moaserve.model.DeviceChoice;
import dev.moaserve.model.EncoderModel;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.Tokenizer;
import org.jboss.logging.Logger;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

/**
 * The model a server runs, loaded and ready: a {@link Generator} (an autoregressive model, its
 * engine, structured output and embeddings) or an {@link Encoder} (embeddings only).
 */
public sealed interface LoadedModel permits LoadedModel.Generator, LoadedModel.Encoder {
    /** What to load and how to run it. {@code path}: a model directory, or empty for the embedded model. */
    record Spec(Optional<String> path, Optional<String> servedName, Device device, Engine.Config engine,
                Embedder.Pooling pooling, Embedder.Limits embeddings, int constraintCacheSize, Constraints.Limits constraints) {}

    /** The model's id in requests and responses. */
    String name();

    Tokenizer tokenizer();

    /** Prompt plus completion tokens at most. */
    int contextLength();

    long parameterCount();

    Embedder embedder();

    /** Where the weights and the state live. */
    Device device();

    /** The matmuls' precision ({@code moa.dtype} resolved for the device). */
    DataType dtype();

    /** The device as logs and metrics name it: {@code cpu} or {@code cuda:N}. */
    default String deviceName() {
        return device().isGpu() ? "cuda:" + device().getDeviceId() : "cpu";
    }

    /** Stops taking work; what runs may finish within {@code grace}; frees the workers. */
    void drain(Duration grace);

    /** An autoregressive model: generates (through its engine) and embeds. */
    record Generator(String name, MoaModel model, Engine engine, Embedder embedder, Constraints constraints,
                     RoutingWorker routing, PromptScorer scorer, RequestPipeline pipeline, ChatTemplate chatTemplate,
                     Device device, DataType dtype) implements LoadedModel {
        @Override
        public Tokenizer tokenizer() {
            return model.tokenizer();
        }

        @Override
        public int contextLength() {
            return model.config().seqLen();
        }

        @Override
        public long parameterCount() {
            return model.weights().parameterCount();
        }

        public Scheduler scheduler() {
            return engine.scheduler();
        }

        @Override
        public void drain(Duration grace) {
            engine.drain(grace.toNanos());
            embedder.close();
            constraints.close();
            routing.close();
            scorer.close();
        }
    }

    /** An encoder: embeddings only (generation routes answer 400). */
    record Encoder(String name, EncoderModel model, Embedder embedder, Device device) implements LoadedModel {
        /** Encoders run in float32. */
        @Override
        public DataType dtype() {
            return DataType.FLOAT32;
        }

        @Override
        public Tokenizer tokenizer() {
            return model.tokenizer();
        }

        @Override
        public int contextLength() {
            return model.weights().config().seqLen();
        }

        @Override
        public long parameterCount() {
            return model.weights().parameterCount();
        }

        @Override
        public void drain(Duration grace) {
            embedder.close();
        }
    }

    /**
     * Loads the model {@code spec} names onto its device, warms its engine up, and logs one line
     * with where the time went. A model directory without a tokenizer is refused: serving reads
     * and writes text.
     */
    static LoadedModel load(Spec spec, EngineStats stats) {
        Logger log = Logger.getLogger(LoadedModel.class);
        long t0 = System.nanoTime();
        dev.moaserve.model.Djl.engine(); // libtorch's start (and its natives' extraction on a first start) is not model loading
        // the loading thread is not the one that computes: the engine's loop (or an encoder's embedding loop) is
        dev.moaserve.model.Djl.sideThread();
        long t1 = System.nanoTime();
        Device device = spec.device();
        String where = spec.path().orElse(null);
        if (where != null && (EncoderModel.namesEmbedded(where) || EncoderModel.isEncoder(Path.of(where)))) {
            EncoderModel e = EncoderModel.namesEmbedded(where) ? EncoderModel.loadEmbedded(device) : EncoderModel.load(Path.of(where), device);
            requireTokenizer(e.tokenizer(), where);
            Encoder encoder = new Encoder(spec.servedName().orElse(e.name()), e, Embedder.of(e.weights(), spec.embeddings()), device);
            log.infof("encoder %s ready on %s, %d ms after JVM start: libtorch %.0f ms, load %.0f ms; %d parameters, "
                            + "embeddings of %d dimensions (mean pooling)", encoder.name(), DeviceChoice.describe(device),
                    ManagementFactory.getRuntimeMXBean().getUptime(), (t1 - t0) / 1e6, (System.nanoTime() - t1) / 1e6,
                    encoder.parameterCount(), encoder.embedder().dimensions());
            return encoder;
        }
        MoaModel model = where != null ? MoaModel.load(Path.of(where), device) : MoaModel.loadEmbedded(device);
        long t2 = System.nanoTime();
        requireTokenizer(model.tokenizer(), where != null ? where : model.name());
        ChatTemplate template = ChatTemplate.parse(model.chatTemplate(), model.name() + "/chat_template.json");
        Engine.Config c = spec.engine();
        Engine engine = Engine.start(model, c, stats);
        Constraints constraints = new Constraints(() -> Vocabulary.of(model.tokenizer(), model.config().numTokens()),
                spec.constraintCacheSize(), spec.constraints());
        RoutingWorker routing = engine.routingWorker(c.maxQueue());
        PromptScorer scorer = new PromptScorer(model.weights(), c.dtype(), c.maxQueue());
        Generator g = new Generator(spec.servedName().orElse(model.name()), model, engine,
                engine.embedder(model.weights(), spec.pooling(), spec.embeddings()), constraints, routing, scorer,
                new RequestPipeline(engine.scheduler(), constraints, scorer, routing, stats, c.requestTimeoutNanos()),
                template, device, c.dtype());
        log.infof("model %s ready on %s, %s, %d ms after JVM start: libtorch %.0f ms, load %.0f ms, engine and first step %.0f ms; "
                        + "%d parameters, state %d bytes per sequence, pool %d bytes (%d slots), prefix cache up to %d bytes",
                g.name(), DeviceChoice.describe(device), c.dtype().name().toLowerCase(Locale.ROOT),
                ManagementFactory.getRuntimeMXBean().getUptime(), (t1 - t0) / 1e6, (t2 - t1) / 1e6,
                (System.nanoTime() - t2) / 1e6, g.parameterCount(), engine.bytesPerSequence(),
                engine.bytesPerSequence() * c.maxBatchSize(), c.maxBatchSize(), c.prefixCacheBytes());
        return g;
    }

    private static void requireTokenizer(Tokenizer tokenizer, String dir) {
        if (tokenizer == null) {
            throw new IllegalStateException("model directory " + dir + " has no tokenizer: serving needs vocab.json "
                    + "(character vocabulary) or tokenizer.json (Hugging Face)");
        }
    }
}

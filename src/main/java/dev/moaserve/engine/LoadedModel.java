package dev.moaserve.engine;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.moaserve.engine.constraint.Constraints;
import dev.moaserve.engine.constraint.Vocabulary;
import dev.moaserve.model.ChatTemplate;
import dev.moaserve.model.DeviceChoice;
import dev.moaserve.model.EncoderModel;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.decode.StepProgram;
import dev.moaserve.model.EncoderConfig;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.ModelLocation;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.NativeMemory;
import dev.moaserve.model.Tokenizer;
import org.jboss.logging.Logger;

import java.lang.management.ManagementFactory;
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

    /**
     * What the server accounts this model to hold (weights, state pool, caches at their bounds):
     * {@link #footprint}, the same figure before and after it loads.
     */
    long footprintBytes();

    /**
     * After {@link #drain}: frees the weights, the decoder and every native buffer of this model,
     * and gives the C heap's free pages back, so an unloaded model leaves no resident plateau.
     */
    void free();

    /** An autoregressive model: generates (through its engine) and embeds. */
    record Generator(String name, MoaModel model, Engine engine, Embedder embedder, Constraints constraints,
                     RoutingWorker routing, PromptScorer scorer, RequestPipeline pipeline, ChatTemplate chatTemplate,
                     Device device, DataType dtype, long footprintBytes) implements LoadedModel {
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

        @Override
        public void free() {
            engine.close();
            model.close();
            NativeMemory.release();
        }
    }

    /** An encoder: embeddings only (generation routes answer 400). */
    record Encoder(String name, EncoderModel model, Embedder embedder, Device device, long footprintBytes) implements LoadedModel {
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

        @Override
        public void free() {
            model.close();
            NativeMemory.release();
        }
    }

    /**
     * Bytes a model accounts for once loaded, from its config alone: float32 weights (and, for a
     * generator, the step program's copy in the matmul dtype), the state pool at
     * {@code moa.max-batch-size} sequences and the prefix cache at its bound; an encoder's weights
     * and its program's copy of them.
     */
    public static long footprint(ModelLocation where, Spec spec) {
        String source = where.describe() + "/config.json";
        if (where.encoder()) {
            return 2 * 4 * elements(EncoderWeights.expectedShapes(EncoderConfig.parse(where.config(), source)));
        }
        ModelConfig c = ModelConfig.parse(where.config(), source);
        Engine.Config e = spec.engine();
        long params = elements(MoaWeights.expectedShapes(c));
        int matmulBytes = e.dtype() == DataType.FLOAT32 ? 4 : 2;
        return params * (4 + matmulBytes) + IncrementalDecoder.bytesPerSequence(c, e.dtype()) * e.maxBatchSize()
                + e.prefixCacheBytes();
    }

    private static long elements(java.util.Map<String, long[]> shapes) {
        long n = 0;
        for (long[] shape : shapes.values()) {
            long k = 1;
            for (long d : shape) {
                k *= d;
            }
            n += k;
        }
        return n;
    }

    /**
     * Loads the model {@code spec} names onto its device, runs its engine's first step, and logs one
     * line with where the time went. Its engine (or an encoder's embeddings) takes turns on
     * {@code compute}, the server's one compute thread (null: a thread of its own). A model
     * directory without a tokenizer is refused: serving reads and writes text.
     */
    public static LoadedModel load(Spec spec, EngineStats stats, ComputeLoop compute) {
        return load(spec, stats, compute, null);
    }

    /**
     * As {@link #load(Spec, EngineStats, ComputeLoop)}, with a generator's files already read
     * ({@link MoaModel#read}, while libtorch started); files read from elsewhere are read again.
     */
    public static LoadedModel load(Spec spec, EngineStats stats, ComputeLoop compute, MoaModel.Files read) {
        Logger log = Logger.getLogger(LoadedModel.class);
        long t0 = System.nanoTime();
        dev.moaserve.model.Djl.engine(); // libtorch's start (and its natives' extraction on a first start) is not model loading
        // the loading thread is not the one that computes: the engine's loop (or an encoder's embedding loop) is
        dev.moaserve.model.Djl.sideThread();
        long t1 = System.nanoTime();
        Device device = spec.device();
        ModelLocation where = ModelLocation.of(spec.path());
        long footprint = footprint(where, spec);
        if (where.encoder()) {
            EncoderModel e = where.dir().isEmpty() ? EncoderModel.loadEmbedded(device) : EncoderModel.load(where.dir().get(), device);
            requireTokenizer(e.tokenizer(), where.describe());
            Embedder embedder = compute == null ? Embedder.of(e.weights(), spec.embeddings())
                    : Embedder.of(e.weights(), spec.embeddings(), compute);
            Encoder encoder = new Encoder(spec.servedName().orElse(e.name()), e, embedder, device, footprint);
            log.infof("encoder %s ready on %s, %d ms after JVM start: libtorch %.0f ms, load %.0f ms; %d parameters, "
                            + "embeddings of %d dimensions (mean pooling), %d bytes accounted", encoder.name(), DeviceChoice.describe(device),
                    ManagementFactory.getRuntimeMXBean().getUptime(), (t1 - t0) / 1e6, (System.nanoTime() - t1) / 1e6,
                    encoder.parameterCount(), encoder.embedder().dimensions(), footprint);
            return encoder;
        }
        MoaModel.Files files = read != null && read.source().equals(where.describe()) ? read : MoaModel.read(where.source(), where.name());
        requireTokenizer(files.tokenizer(), files.name());
        ChatTemplate template = ChatTemplate.parse(files.chatTemplate(), files.name() + "/chat_template.json");
        // the step program compiles on a thread of its own while the weights load
        StepProgram program = StepProgram.begin(files.config(), spec.engine().dtype(), device);
        MoaModel model = null;
        try {
            model = MoaModel.load(files, device);
            long t2 = System.nanoTime();
            return start(model, template, spec, stats, compute, program, footprint, t0, t1, t2);
        } catch (RuntimeException | Error e) {
            program.discard();
            if (model != null) {
                model.close();
            }
            throw e;
        }
    }

    private static Generator start(MoaModel model, ChatTemplate template, Spec spec, EngineStats stats, ComputeLoop compute,
                                   StepProgram program, long footprint, long t0, long t1, long t2) {
        Logger log = Logger.getLogger(LoadedModel.class);
        Engine.Config c = spec.engine();
        Engine engine = Engine.start(model, c, stats, EngineClock.SYSTEM, compute, program);
        Constraints constraints = new Constraints(() -> Vocabulary.of(model.tokenizer(), model.config().numTokens()),
                spec.constraintCacheSize(), spec.constraints());
        RoutingWorker routing = engine.routingWorker(c.maxQueue());
        PromptScorer scorer = new PromptScorer(model.weights(), c.dtype(), c.maxQueue());
        Generator g = new Generator(spec.servedName().orElse(model.name()), model, engine,
                engine.embedder(model.weights(), spec.pooling(), spec.embeddings()), constraints, routing, scorer,
                new RequestPipeline(engine.scheduler(), constraints, scorer, routing, stats, c.requestTimeoutNanos()),
                template, spec.device(), c.dtype(), footprint);
        log.infof("model %s ready on %s, %s, %d ms after JVM start: libtorch %.0f ms, load %.0f ms, engine and first step %.0f ms; "
                        + "%d parameters, state %d bytes per sequence, pool %d bytes (%d slots), prefix cache up to %d bytes, "
                        + "%d bytes accounted",
                g.name(), DeviceChoice.describe(spec.device()), c.dtype().name().toLowerCase(Locale.ROOT),
                ManagementFactory.getRuntimeMXBean().getUptime(), (t1 - t0) / 1e6, (t2 - t1) / 1e6,
                (System.nanoTime() - t2) / 1e6, g.parameterCount(), engine.bytesPerSequence(),
                engine.bytesPerSequence() * c.maxBatchSize(), c.maxBatchSize(), c.prefixCacheBytes(), footprint);
        return g;
    }

    private static void requireTokenizer(Tokenizer tokenizer, String dir) {
        if (tokenizer == null) {
            throw new IllegalStateException("model directory " + dir + " has no tokenizer: serving needs vocab.json "
                    + "(character vocabulary) or tokenizer.json (Hugging Face)");
        }
    }
}

package dev.moaserve.model;

import ai.djl.ndarray.NDManager;

import java.io.IOException;
import java.nio.file.Path;

/** A MoA encoder model directory: config.json ({@code "model_type": "moa_encoder"}), weights, tokenizer. */
public final class EncoderModel implements AutoCloseable {
    /** The encoder the project trains and ships (docs/encoders.md), served by this name. */
    public static final String EMBEDDED_NAME = "moa-shakespeare-encoder";
    public static final String EMBEDDED = "models/" + EMBEDDED_NAME;
    private final String name;
    private final EncoderWeights weights;
    private final Tokenizer tokenizer;

    private EncoderModel(String name, EncoderWeights weights, Tokenizer tokenizer) {
        this.name = name;
        this.weights = weights;
        this.tokenizer = tokenizer;
    }

    /** Whether the directory's config.json describes an encoder. */
    public static boolean isEncoder(Path dir) {
        try {
            byte[] cfg = ModelSource.directory(dir).read("config.json");
            return cfg != null && EncoderConfig.MODEL_TYPE.equals(ModelConfig.modelType(cfg, dir + "/config.json"));
        } catch (IOException e) {
            return false;
        }
    }

    /** Whether a model path names the shipped encoder: its name, where no such directory exists. */
    public static boolean namesEmbedded(String path) {
        return path.equals(EMBEDDED_NAME) && !java.nio.file.Files.isDirectory(Path.of(path));
    }

    /** The shipped encoder (a classpath folder). */
    public static EncoderModel loadEmbedded(ai.djl.Device device) {
        return load(ModelSource.classpath(EMBEDDED), EMBEDDED_NAME, device);
    }

    /** Loads and validates everything before the first array is created; weights on {@code device}. */
    public static EncoderModel load(Path dir, ai.djl.Device device) {
        return load(ModelSource.directory(dir), MoaModel.nameOf(dir), device);
    }

    private static EncoderModel load(ModelSource source, String name, ai.djl.Device device) {
        Djl.engine();
        try {
            byte[] cfgBytes = source.read("config.json");
            if (cfgBytes == null) {
                throw new ModelException(source.describe() + "/config.json: missing");
            }
            EncoderConfig config = EncoderConfig.parse(cfgBytes, source.describe() + "/config.json");
            Safetensors file = source.weights("model.safetensors");
            Tokenizer tokenizer = MoaModel.loadTokenizer(source, config.shape());
            NDManager manager = Djl.newManager(device);
            try {
                return new EncoderModel(name, EncoderWeights.load(config, file, manager), tokenizer);
            } catch (RuntimeException e) {
                manager.close();
                throw e;
            }
        } catch (IOException e) {
            throw new ModelException(source.describe() + ": cannot read model: " + e.getMessage(), e);
        }
    }

    public String name() {
        return name;
    }

    public EncoderWeights weights() {
        return weights;
    }

    /** Null when the directory has neither vocab.json nor tokenizer.json. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    @Override
    public void close() {
        weights.close();
    }
}

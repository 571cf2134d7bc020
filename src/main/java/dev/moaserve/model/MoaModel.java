package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A loaded MoA language model: config, weights (on one NDManager), tokenizer and chat template.
 * Read-only after loading; safe to use from several threads.
 */
public final class MoaModel implements AutoCloseable {
    /** Classpath folder of the model that ships inside the application. */
    public static final String EMBEDDED = "models/moa-shakespeare";

    private final String name;
    private final ModelConfig config;
    private final MoaWeights weights;
    private final Tokenizer tokenizer;
    private final String chatTemplate;

    private MoaModel(String name, ModelConfig config, MoaWeights weights, Tokenizer tokenizer, String chatTemplate) {
        this.name = name;
        this.config = config;
        this.weights = weights;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
    }

    /** A model from weights that already exist (training, tests). */
    public static MoaModel of(String name, MoaWeights weights, Tokenizer tokenizer, String chatTemplate) {
        return new MoaModel(name, weights.config(), weights, tokenizer, chatTemplate);
    }

    public static MoaModel load(Path dir) {
        return load(dir, ai.djl.Device.cpu());
    }

    /** A model directory, its weights on {@code device}. */
    public static MoaModel load(Path dir, ai.djl.Device device) {
        return load(ModelSource.directory(dir), nameOf(dir), device);
    }

    /** A model directory's served name: its own name ("model" for a root). */
    static String nameOf(Path dir) {
        Path name = dir.toAbsolutePath().normalize().getFileName();
        return name == null ? "model" : name.toString();
    }

    public static MoaModel loadEmbedded() {
        return loadEmbedded(ai.djl.Device.cpu());
    }

    public static MoaModel loadEmbedded(ai.djl.Device device) {
        return load(ModelSource.classpath(EMBEDDED), "moa-shakespeare", device);
    }

    public static MoaModel load(ModelSource source, String name) {
        return load(source, name, ai.djl.Device.cpu());
    }

    /**
     * Loads config.json, model.safetensors and (optional) vocab.json / tokenizer.json and
     * chat_template.json. Everything is validated before the first NDArray is created.
     */
    public static MoaModel load(ModelSource source, String name, ai.djl.Device device) {
        return load(read(source, name), device);
    }

    /**
     * A model's files read and checked, before libtorch is needed: a server reads them while
     * libtorch starts ({@code EarlyStart}).
     *
     * @param source where they were read ({@link ModelSource#describe})
     */
    public record Files(String name, String source, ModelConfig config, Safetensors weights, Tokenizer tokenizer,
                        String chatTemplate) {}

    /** Reads and checks a model's files; no NDArray is created. */
    public static Files read(ModelSource source, String name) {
        try {
            byte[] cfgBytes = source.read("config.json");
            if (cfgBytes == null) {
                throw new ModelException(source.describe() + "/config.json: missing");
            }
            ModelConfig config = ModelConfig.parse(cfgBytes, source.describe() + "/config.json");
            Safetensors file = source.weights("model.safetensors");
            Tokenizer tokenizer = loadTokenizer(source, config);
            byte[] template = source.read("chat_template.json");
            return new Files(name, source.describe(), config, file, tokenizer,
                    template == null ? null : new String(template, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new ModelException(source.describe() + ": cannot read model: " + e.getMessage(), e);
        }
    }

    /** The model of files already read, its weights on {@code device}. */
    public static MoaModel load(Files files, ai.djl.Device device) {
        Djl.engine();
        NDManager manager = Djl.newManager(device);
        try {
            MoaWeights weights = MoaWeights.load(files.config(), files.weights(), manager);
            return new MoaModel(files.name(), files.config(), weights, files.tokenizer(), files.chatTemplate());
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    static Tokenizer loadTokenizer(ModelSource source, ModelConfig config) throws IOException {
        byte[] vocab = source.read("vocab.json");
        Tokenizer t = null;
        if (vocab != null) {
            t = CharTokenizer.parse(vocab, source.describe() + "/vocab.json");
        } else {
            byte[] hf = source.read("tokenizer.json");
            if (hf != null) {
                t = HfTokenizer.parse(hf, source.describe() + "/tokenizer.json", config.numTokens());
            }
        }
        if (t != null && t.vocabSize() > config.numTokens()) {
            throw new ModelException(source.describe() + ": tokenizer has " + t.vocabSize()
                    + " tokens but num_tokens is " + config.numTokens());
        }
        return t;
    }

    public String name() {
        return name;
    }

    public ModelConfig config() {
        return config;
    }

    public MoaWeights weights() {
        return weights;
    }

    /** The tokenizer, or null for a model shipped without one (token ids only). */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** Chat template ({@code chat_template.json}) text, or null for none. */
    public String chatTemplate() {
        return chatTemplate;
    }

    /** Rejects ids outside the vocabulary and sequences longer than seq_len. */
    public void checkTokens(long[] tokens) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("empty token sequence");
        }
        if (tokens.length > config.seqLen()) {
            throw new IllegalArgumentException("sequence of " + tokens.length + " tokens is longer than the model's "
                    + "context (seq_len " + config.seqLen() + ")");
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= config.numTokens()) {
                throw new IllegalArgumentException("token id " + tokens[i] + " at position " + i
                        + " is out of range [0, " + config.numTokens() + ")");
            }
        }
    }

    /** Output of a full forward: logits [B][N·V] and, if asked, hidden [L][B][N·D] (row-major). */
    public record Forward(int batch, int length, float[][] logits, float[][][] hidden) {}

    /**
     * Full forward of equal-length sequences (the definition of the model).
     *
     * @param tokens [B][N]
     */
    public Forward forward(long[][] tokens, boolean keepHidden) {
        int b = tokens.length;
        if (b == 0) {
            throw new IllegalArgumentException("empty batch");
        }
        int n = tokens[0].length;
        long[] flat = new long[b * n];
        for (int i = 0; i < b; i++) {
            if (tokens[i].length != n) {
                throw new IllegalArgumentException("all sequences of a full-forward batch must have the same length");
            }
            checkTokens(tokens[i]);
            System.arraycopy(tokens[i], 0, flat, i * n, n);
        }
        Djl.inferenceThread();
        try (NDManager m = weights.manager().newSubManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray ids = m.create(flat, new Shape(b, n));
            List<NDArray> hidden = keepHidden ? new ArrayList<>() : null;
            NDArray logits = FullForward.logits(weights, m, ids, hidden);
            float[][] outLogits = split(logits.toFloatArray(), b);
            float[][][] outHidden = null;
            if (keepHidden) {
                outHidden = new float[hidden.size()][][];
                for (int l = 0; l < hidden.size(); l++) {
                    outHidden[l] = split(hidden.get(l).toFloatArray(), b);
                }
            }
            return new Forward(b, n, outLogits, outHidden);
        }
    }

    /** Last-position logits of a full forward on one prefix: the generation semantics. */
    public float[] nextTokenLogits(long[] prefix) {
        float[] all = forward(new long[][] {prefix}, false).logits()[0];
        int v = config.numTokens();
        float[] last = new float[v];
        System.arraycopy(all, all.length - v, last, 0, v);
        return last;
    }

    private static float[][] split(float[] flat, int rows) {
        int len = flat.length / rows;
        float[][] out = new float[rows][len];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(flat, i * len, out[i], 0, len);
        }
        return out;
    }

    @Override
    public void close() {
        weights.close();
    }
}

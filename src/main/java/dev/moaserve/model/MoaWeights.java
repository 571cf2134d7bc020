package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parameters of a {@code Transformer}, by their PyTorch state-dict names and shapes, plus the
 * derived views the math uses (transposed linears, per-expert blocks of the grouped 1×1 convs).
 *
 * <p>Notation used in shape comments throughout: V vocab, D dim, H heads, dh dim_head,
 * I = H·dh, G experts, F = D·ff_mult.
 */
public final class MoaWeights implements AutoCloseable {

    /** One decoder layer in compute layout. */
    public record Layer(
            NDArray localNormWeight, // [D]
            NDArray localNormBias,   // [D]
            NDArray localQkvT,       // [D, 3I]
            NDArray localOutT,       // [I, D]
            NDArray queryRouting,    // [G, D] routing tokens of the query router
            NDArray kvRouting,       // [G, D] routing tokens of the key/value router
            NDArray nullTokens,      // [G, D]
            NDArray nullK,           // [G, H, 1, dh]
            NDArray nullV,           // [G, H, 1, dh]
            NDArray queryGamma,      // [G, 1, D] RMSNorm_g of the routed queries
            NDArray contextGamma,    // [G, 1, D] RMSNorm'_g of the routed keys/values
            NDArray toQ,             // [G, D, I]
            NDArray toKv,            // [G, D, 2I]: per expert, keys then values
            NDArray toOut,           // [G, I, D]
            NDArray ffGamma,         // [D]
            NDArray ff1T,            // [D, F]
            NDArray ff1Bias,         // [F]
            NDArray ff2T,            // [F, D]
            NDArray ff2Bias) {       // [D]
    }

    private final ModelConfig config;
    private final NDManager manager;
    private final Map<String, NDArray> params;
    private final Rope rope;
    private Layer[] layers;
    private NDArray tokenEmb;    // [V, D]
    private NDArray posEmb;      // [S, D]
    private NDArray finalGamma;  // [D]
    private NDArray logitsT;     // [D, V]
    private NDArray logitsBias;  // [V]

    private MoaWeights(ModelConfig config, NDManager manager, Map<String, NDArray> params, float[] invFreq) {
        this.config = config;
        this.manager = manager;
        this.params = params;
        // padded full-forward windows reach past seq_len: size the tables for that
        int pad = Math.max(config.localAttnWindowSize(), config.routedWindowSize());
        this.rope = new Rope(manager, config.seqLen() + pad, config.dimHead(), invFreq);
        derive();
    }

    /** Every parameter name and shape of a model with this config, in state-dict order. */
    public static Map<String, long[]> expectedShapes(ModelConfig c) {
        long d = c.dim(), g = c.numExperts(), h = c.heads(), dh = c.dimHead(), i = c.inner();
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("token_emb.weight", new long[] {c.numTokens(), d});
        s.put("pos_emb.weight", new long[] {c.seqLen(), d});
        for (int l = 0; l < c.depth(); l++) {
            String a = "layers." + l + ".0.";
            s.put(a + "null_tokens", new long[] {g, d});
            s.put(a + "local_attn.norm.weight", new long[] {d});
            s.put(a + "local_attn.norm.bias", new long[] {d});
            s.put(a + "local_attn.to_qkv.weight", new long[] {3 * i, d});
            s.put(a + "local_attn.to_out.weight", new long[] {d, i});
            s.put(a + "query_router.routing_token", new long[] {g, d});
            s.put(a + "key_value_router.routing_token", new long[] {g, d});
            s.put(a + "attn.null_kv", new long[] {2, g, h, 1, dh});
            s.put(a + "attn.norm.gamma", new long[] {g, d, 1});
            s.put(a + "attn.context_norm.gamma", new long[] {g, d, 1});
            s.put(a + "attn.to_q.weight", new long[] {g * i, d, 1});
            s.put(a + "attn.to_kv.weight", new long[] {g * 2 * i, d, 1});
            s.put(a + "attn.to_out.weight", new long[] {g * d, i, 1});
            feedForwardShapes(s, "layers." + l + ".1.", c);
        }
        s.put("to_logits.0.gamma", new long[] {d});
        s.put("to_logits.1.weight", new long[] {c.numTokens(), d});
        s.put("to_logits.1.bias", new long[] {c.numTokens()});
        return s;
    }

    /** The MoA {@code FeedForward} (RMSNorm, Linear, GELU, Linear) under {@code prefix}. */
    static void feedForwardShapes(Map<String, long[]> s, String prefix, ModelConfig c) {
        s.put(prefix + "0.gamma", new long[] {c.dim()});
        s.put(prefix + "1.weight", new long[] {c.ffDim(), c.dim()});
        s.put(prefix + "1.bias", new long[] {c.ffDim()});
        s.put(prefix + "3.weight", new long[] {c.dim(), c.ffDim()});
        s.put(prefix + "3.bias", new long[] {c.dim()});
    }

    /** Rotary frequency buffers the reference may save; optional, recomputed when absent. */
    private static boolean isInvFreqBuffer(String name) {
        return name.endsWith("inv_freq");
    }

    /**
     * Loads and validates every tensor against the config before creating any NDArray, so a bad
     * file fails with a message naming the file and tensor, never inside native code.
     */
    public static MoaWeights load(ModelConfig config, Safetensors file, NDManager manager) {
        Map<String, long[]> expected = expectedShapes(config);
        checkParams(expected, file);
        float[] invFreq = null;
        if (file.entries().containsKey("rotary_emb.inv_freq")) {
            Safetensors.Entry e = file.entry("rotary_emb.inv_freq");
            if (e.elements() != config.dimHead() / 2) {
                throw new ModelException(file.source() + ": tensor 'rotary_emb.inv_freq' has "
                        + e.elements() + " elements, expected dim_head/2 = " + config.dimHead() / 2);
            }
            FloatBuffer fb = file.floats("rotary_emb.inv_freq");
            invFreq = new float[fb.remaining()];
            fb.get(invFreq);
        }
        Map<String, NDArray> params = createParams(expected, file, manager);
        return new MoaWeights(config, manager, params, invFreq);
    }

    /**
     * Checks every tensor against {@code expected} (names, shapes, float types; nothing missing
     * or extra but rotary frequency buffers) before any array exists, so a bad file fails with a
     * message naming the file and tensor, never inside native code.
     */
    static void checkParams(Map<String, long[]> expected, Safetensors file) {
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            Safetensors.Entry entry = file.entry(e.getKey());
            if (!Arrays.equals(entry.shape(), e.getValue())) {
                throw new ModelException(file.source() + ": tensor '" + e.getKey() + "' has shape "
                        + Arrays.toString(entry.shape()) + ", config.json implies " + Arrays.toString(e.getValue()));
            }
            if (entry.dtype() == Safetensors.DType.I64 || entry.dtype() == Safetensors.DType.I32) {
                throw new ModelException(file.source() + ": tensor '" + e.getKey() + "' is " + entry.dtype()
                        + ", expected a float type");
            }
        }
        for (String name : file.entries().keySet()) {
            if (!expected.containsKey(name) && !isInvFreqBuffer(name)) {
                throw new ModelException(file.source() + ": unexpected tensor '" + name
                        + "' (not a parameter of this config)");
            }
        }
    }

    /** The checked tensors as float32 arrays, by name. */
    static Map<String, NDArray> createParams(Map<String, long[]> expected, Safetensors file, NDManager manager) {
        Map<String, NDArray> params = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            NDArray a = manager.create(file.floats(e.getKey()), new Shape(e.getValue()), DataType.FLOAT32);
            a.setName(e.getKey());
            params.put(e.getKey(), a);
        }
        return params;
    }

    /** Wraps parameter arrays that already exist (e.g. freshly initialised for training). */
    public static MoaWeights of(ModelConfig config, NDManager manager, Map<String, NDArray> params) {
        return new MoaWeights(config, manager, params, null);
    }

    /**
     * Recomputes the compute-layout views from the parameters. Training calls this inside its
     * gradient scope each step so gradients flow back to the state-dict tensors.
     */
    public void derive() {
        ModelConfig c = config;
        int d = c.dim();
        layers = new Layer[c.depth()];
        for (int l = 0; l < c.depth(); l++) {
            String a = "layers." + l + ".0.";
            layers[l] = layer(params, a, "layers." + l + ".1.", d, c, true, p(a + "null_tokens"));
        }
        tokenEmb = p("token_emb.weight");
        posEmb = p("pos_emb.weight");
        finalGamma = p("to_logits.0.gamma");
        logitsT = p("to_logits.1.weight").transpose();
        logitsBias = p("to_logits.1.bias");
    }

    /**
     * One attention layer in compute layout from state-dict names under {@code prefix}: the local
     * branch (if {@code local}), the routers, the experts (keys/values of width {@code dimContext})
     * and the feed-forward under {@code ffPrefix} (null: none).
     */
    static Layer layer(Map<String, NDArray> p, String prefix, String ffPrefix, int dimContext, ModelConfig c,
                       boolean local, NDArray nullTokens) {
        int g = c.numExperts(), i = c.inner(), d = c.dim();
        NDArray nullKv = get(p, prefix + "attn.null_kv");
        boolean ff = ffPrefix != null;
        return new Layer(
                local ? get(p, prefix + "local_attn.norm.weight") : null,
                local ? get(p, prefix + "local_attn.norm.bias") : null,
                local ? get(p, prefix + "local_attn.to_qkv.weight").transpose() : null,
                local ? get(p, prefix + "local_attn.to_out.weight").transpose() : null,
                get(p, prefix + "query_router.routing_token"),
                get(p, prefix + "key_value_router.routing_token"),
                nullTokens,
                nullKv.get(0),
                nullKv.get(1),
                get(p, prefix + "attn.norm.gamma").reshape(g, 1, d),
                get(p, prefix + "attn.context_norm.gamma").reshape(g, 1, dimContext),
                get(p, prefix + "attn.to_q.weight").reshape(g, i, d).transpose(0, 2, 1),
                get(p, prefix + "attn.to_kv.weight").reshape(g, 2 * i, dimContext).transpose(0, 2, 1),
                get(p, prefix + "attn.to_out.weight").reshape(g, d, i).transpose(0, 2, 1),
                ff ? get(p, ffPrefix + "0.gamma") : null,
                ff ? get(p, ffPrefix + "1.weight").transpose() : null,
                ff ? get(p, ffPrefix + "1.bias") : null,
                ff ? get(p, ffPrefix + "3.weight").transpose() : null,
                ff ? get(p, ffPrefix + "3.bias") : null);
    }

    private static NDArray get(Map<String, NDArray> params, String name) {
        NDArray a = params.get(name);
        if (a == null) {
            throw new ModelException("missing parameter '" + name + "'");
        }
        return a;
    }

    private NDArray p(String name) {
        return get(params, name);
    }

    public ModelConfig config() {
        return config;
    }

    public NDManager manager() {
        return manager;
    }

    /** Parameters by state-dict name (reference layout). */
    public Map<String, NDArray> params() {
        return params;
    }

    public Layer layer(int l) {
        return layers[l];
    }

    public Rope rope() {
        return rope;
    }

    public NDArray tokenEmb() {
        return tokenEmb;
    }

    public NDArray posEmb() {
        return posEmb;
    }

    public NDArray finalGamma() {
        return finalGamma;
    }

    public NDArray logitsT() {
        return logitsT;
    }

    public NDArray logitsBias() {
        return logitsBias;
    }

    /** A parameter by its state-dict name. */
    public NDArray param(String name) {
        return p(name);
    }

    public long parameterCount() {
        long n = 0;
        for (NDArray a : params.values()) {
            n += a.size();
        }
        return n;
    }

    /** Snapshot of the parameters as safetensors tensors (F16 when {@code half}). */
    public List<Safetensors.Tensor> toTensors(boolean half) {
        return tensors(params, half);
    }

    /** Snapshot of named parameters as safetensors tensors (F16 when {@code half}), in map order. */
    static List<Safetensors.Tensor> tensors(Map<String, NDArray> params, boolean half) {
        List<Safetensors.Tensor> out = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            float[] data = e.getValue().toFloatArray();
            long[] shape = e.getValue().getShape().getShape();
            out.add(half ? Safetensors.Tensor.f16(e.getKey(), shape, data)
                    : Safetensors.Tensor.f32(e.getKey(), shape, data));
        }
        return out;
    }

    @Override
    public void close() {
        manager.close();
    }
}

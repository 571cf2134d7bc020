package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The parameters of a MoA encoder by their PyTorch state-dict names, and the compute-layout views
 * {@link EncoderForward} uses. A layer's {@code MixtureOfAttention} has the same submodules as the
 * autoregressive one ({@code local_attn}, {@code query_router}, {@code key_value_router},
 * {@code attn}) except the null token: one {@code null_routed_token} [1, 1, D] for every expert,
 * and only when there is no local branch.
 */
public final class EncoderWeights implements AutoCloseable {
    /** One {@code MixtureOfAttention} in compute layout (its feed-forward, if any, in the same record). */
    public record Mixture(MoaWeights.Layer w, NDArray nullRouted /* [D], or null with a local branch */) {}

    private final EncoderConfig config;
    private final NDManager manager;
    private final Map<String, NDArray> params;
    private final Rope rope;
    private Mixture[] layers;

    private EncoderWeights(EncoderConfig config, NDManager manager, Map<String, NDArray> params) {
        this.config = config;
        this.manager = manager;
        this.params = params;
        // non-causal local attention rotates queries W positions ahead, over a padded last block
        this.rope = new Rope(manager, config.seqLen() + 3 * config.localWindow(), config.shape().dimHead(), null);
        derive();
    }

    /**
     * (Re)builds the compute-layout views from the parameters: training calls it inside each
     * step's gradient scope, since views made before the parameters required gradients do not
     * carry them.
     */
    public void derive() {
        ModelConfig c = config.shape();
        layers = new Mixture[c.depth()];
        for (int l = 0; l < c.depth(); l++) {
            layers[l] = mixture(params, "layers." + l + ".0.", "layers." + l + ".1.", c.dim(), c, config.localAttn());
        }
    }

    /** The parameters by state-dict name (training updates them in place). */
    public Map<String, NDArray> params() {
        return params;
    }

    /** Every parameter name and shape of an encoder with this config, in state-dict order. */
    public static Map<String, long[]> expectedShapes(EncoderConfig e) {
        ModelConfig c = e.shape();
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("token_emb.weight", new long[] {c.numTokens(), c.dim()});
        s.put("pos_emb.weight", new long[] {c.seqLen(), c.dim()});
        for (int l = 0; l < c.depth(); l++) {
            mixtureShapes(s, "layers." + l + ".0.", c, c.dim(), e.localAttn());
            MoaWeights.feedForwardShapes(s, "layers." + l + ".1.", c);
        }
        s.put("norm.gamma", new long[] {c.dim()});
        return s;
    }

    /** The parameters of one {@code MixtureOfAttention(dim, dim_context, local_attn, ...)} under {@code prefix}. */
    public static void mixtureShapes(Map<String, long[]> s, String prefix, ModelConfig c, int dimContext, boolean local) {
        long d = c.dim(), g = c.numExperts(), h = c.heads(), dh = c.dimHead(), i = c.inner();
        if (local) {
            s.put(prefix + "local_attn.norm.weight", new long[] {d});
            s.put(prefix + "local_attn.norm.bias", new long[] {d});
            s.put(prefix + "local_attn.to_qkv.weight", new long[] {3 * i, d});
            s.put(prefix + "local_attn.to_out.weight", new long[] {d, i});
        } else {
            s.put(prefix + "null_routed_token", new long[] {1, 1, d});
        }
        s.put(prefix + "query_router.routing_token", new long[] {g, d});
        s.put(prefix + "key_value_router.routing_token", new long[] {g, dimContext});
        s.put(prefix + "attn.null_kv", new long[] {2, g, h, 1, dh});
        s.put(prefix + "attn.norm.gamma", new long[] {g, d, 1});
        s.put(prefix + "attn.context_norm.gamma", new long[] {g, dimContext, 1});
        s.put(prefix + "attn.to_q.weight", new long[] {g * i, d, 1});
        s.put(prefix + "attn.to_kv.weight", new long[] {g * 2 * i, dimContext, 1});
        s.put(prefix + "attn.to_out.weight", new long[] {g * d, i, 1});
    }

    /** Checks every tensor against {@code expected} before creating any array, then creates them. */
    public static Map<String, NDArray> loadParams(Map<String, long[]> expected, Safetensors file, NDManager manager) {
        MoaWeights.checkParams(expected, file);
        return MoaWeights.createParams(expected, file, manager);
    }

    /** Wraps parameter arrays that already exist (random initialisation for benchmarks and tests). */
    public static EncoderWeights of(EncoderConfig config, NDManager manager, Map<String, NDArray> params) {
        return new EncoderWeights(config, manager, params);
    }

    public static EncoderWeights load(EncoderConfig config, Safetensors file, NDManager manager) {
        return new EncoderWeights(config, manager, loadParams(expectedShapes(config), file, manager));
    }

    /**
     * One {@code MixtureOfAttention} (and the feed-forward under {@code ffPrefix}, null for none)
     * in compute layout, from parameters named as {@link #mixtureShapes} lists them.
     */
    public static Mixture mixture(Map<String, NDArray> p, String prefix, String ffPrefix, int dimContext, ModelConfig c,
                                  boolean local) {
        MoaWeights.Layer w = MoaWeights.layer(p, prefix, ffPrefix, dimContext, c, local, null);
        NDArray nullRouted = p.get(prefix + "null_routed_token");
        if (!local && nullRouted == null) {
            throw new ModelException("missing parameter '" + prefix + "null_routed_token'");
        }
        return new Mixture(w, local ? null : nullRouted.reshape(c.dim()));
    }

    public EncoderConfig config() {
        return config;
    }

    public NDManager manager() {
        return manager;
    }

    public Rope rope() {
        return rope;
    }

    public Mixture layer(int l) {
        return layers[l];
    }

    public NDArray tokenEmb() {
        return params.get("token_emb.weight");
    }

    public NDArray posEmb() {
        return params.get("pos_emb.weight");
    }

    public NDArray finalGamma() {
        return params.get("norm.gamma");
    }

    /** Snapshot of the parameters as safetensors tensors (F16 when {@code half}). */
    public java.util.List<Safetensors.Tensor> toTensors(boolean half) {
        return MoaWeights.tensors(params, half);
    }

    public long parameterCount() {
        return params.values().stream().mapToLong(NDArray::size).sum();
    }

    @Override
    public void close() {
        manager.close();
    }
}

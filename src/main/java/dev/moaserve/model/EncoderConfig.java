package dev.moaserve.model;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A MoA encoder's hyper-parameters ({@code "model_type": "moa_encoder"}): the seeds'
 * non-autoregressive {@code MixtureOfAttention} in every layer, over the whole sequence.
 *
 * @param shape     the sizes in {@link ModelConfig}'s terms; its routed window is the whole
 *                  context (routing is not windowed), its local window the local branch's
 *                  (or 1 when there is none)
 * @param localAttn whether each layer runs {@code LocalMHA} (non-causal, window W) beside the experts
 */
public record EncoderConfig(ModelConfig shape, boolean localAttn) {
    public static final String MODEL_TYPE = "moa_encoder";

    public static EncoderConfig parse(byte[] json, String source) {
        ObjectNode root = ModelConfig.object(json, source);
        ModelConfig.Reader r = new ModelConfig.Reader(root, source);
        boolean local = r.bool("local_attn", false);
        Integer window = r.optionalInteger("local_attn_window_size");
        if (local && window == null) {
            throw new ModelException(source + ": local_attn needs local_attn_window_size");
        }
        int seqLen = r.integer("seq_len", null);
        ModelConfig shape;
        try {
            shape = new ModelConfig(
                    r.integer("num_tokens", null),
                    r.integer("dim", null),
                    r.integer("depth", null),
                    seqLen,
                    local ? window : 1,
                    seqLen,
                    r.integer("num_routed_queries", null),
                    r.integer("num_routed_key_values", null),
                    r.integer("num_experts", null),
                    r.integer("dim_head", 64),
                    r.integer("heads", 8),
                    r.integer("ff_mult", 4),
                    r.bool("cosine_sim_routing", false),
                    r.number("fetch_k_ratio", 9.0 / 8.0),
                    r.integer("router_n_iters", 20),
                    r.number("router_eps", 0.03),
                    r.number("router_eps_init", 4.0),
                    r.number("router_eps_decay", 0.7),
                    r.number("cosine_sim_scale", 8.0));
        } catch (ModelException e) {
            throw new ModelException(source + ": " + e.getMessage().replaceFirst("^config: ", ""), e);
        }
        r.rejectUnknown();
        return new EncoderConfig(shape, local);
    }

    public int dim() {
        return shape.dim();
    }

    /** Longest input (learned positions). */
    public int seqLen() {
        return shape.seqLen();
    }

    /** The local branch's window W (meaningful only with {@link #localAttn}). */
    public int localWindow() {
        return shape.localAttnWindowSize();
    }
}

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
        ModelConfig shape = ModelConfig.read(r, source, local ? window : 1, seqLen, false);
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

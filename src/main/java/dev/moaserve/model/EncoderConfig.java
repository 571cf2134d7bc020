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
 * @param maskTokenId the id masked-token training replaced inputs with (an id no text encodes
 *                  to), or null: not used for embeddings, only to evaluate the training objective
 */
public record EncoderConfig(ModelConfig shape, boolean localAttn, Integer maskTokenId) {
    public static final String MODEL_TYPE = "moa_encoder";

    public EncoderConfig(ModelConfig shape, boolean localAttn) {
        this(shape, localAttn, null);
    }

    public static EncoderConfig parse(byte[] json, String source) {
        ObjectNode root = ModelConfig.object(json, source);
        ModelConfig.Reader r = new ModelConfig.Reader(root, source);
        boolean local = r.bool("local_attn", false);
        Integer window = r.optionalInteger("local_attn_window_size");
        if (local && window == null) {
            throw new ModelException(source + ": local_attn needs local_attn_window_size");
        }
        int seqLen = r.integer("seq_len", null);
        Integer mask = r.optionalInteger("mask_token_id");
        ModelConfig shape = ModelConfig.read(r, source, local ? window : 1, seqLen, false);
        r.rejectUnknown();
        if (mask != null && (mask < 0 || mask >= shape.numTokens())) {
            throw new ModelException(source + ": mask_token_id " + mask + " is out of range [0, " + shape.numTokens() + ")");
        }
        return new EncoderConfig(shape, local, mask);
    }

    /** The config as {@link #parse} reads it back (snake_case keys). */
    public ObjectNode toJson() {
        ObjectNode all = shape.toJson();
        ObjectNode o = all.objectNode();
        o.put("model_type", MODEL_TYPE);
        all.fields().forEachRemaining(e -> {
            String k = e.getKey();
            if (!k.equals("routed_window_size") && !k.equals("local_attn_window_size")) { // not windowed; W below
                o.set(k, e.getValue());
            }
        });
        o.put("local_attn", localAttn);
        if (localAttn) {
            o.put("local_attn_window_size", localWindow());
        }
        if (maskTokenId != null) {
            o.put("mask_token_id", maskTokenId);
        }
        return o;
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

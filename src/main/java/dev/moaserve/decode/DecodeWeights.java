package dev.moaserve.decode;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.Ops;

import java.util.ArrayList;
import java.util.List;

/**
 * The model's weights rearranged once, at load, so that a decode step needs as few tensor
 * operations as possible. Read-only; everything here is exact rearrangement of the state dict
 * except for float rounding of the folded products:
 * <ul>
 *   <li>RMSNorm gammas (and √D) are folded into the linear that follows them, so a norm is one
 *       {@code normalize};</li>
 *   <li>the attention scale dh^-½ is folded into the query projections;</li>
 *   <li>rotary's {@code rotate_half} sign is folded into the sine table, so rotation is
 *       {@code x·cos + roll(x, dh/2)·sin'} (a roll, not a matmul, and no extra projection rows:
 *       at batch 1 a step reads every weight once, so weight bytes are its cost);</li>
 *   <li>per-expert projections are concatenated so that all experts run as one 2-D linear.</li>
 * </ul>
 * Linear weights are in torch layout [out, in] for {@code Linear.linear}, in the compute dtype
 * (float32, or float16 for half-precision matmuls); norms, routing tokens and embeddings stay in
 * float32. Shape letters as in {@link MoaWeights}.
 */
final class DecodeWeights {

    /** One layer. */
    record Layer(
            NDArray lnWeight,     // [D]
            NDArray lnBias,       // [D]
            NDArray localIn,      // [3I, D]: q·s, k, v
            NDArray localOut,     // [D, I]
            NDArray queryTokensT, // [D, G] query routing tokens (l2-normalised if cosine routing)
            NDArray kvTokensT,    // [D, G] key/value routing tokens
            NDArray routedQ,      // [G·I, D]: per expert q·s, after RMSNorm_g
            NDArray routedKv,     // [G·2I, D]: per expert k, v, after RMSNorm'_g
            NDArray routedOut,    // [D, G·I]: expert g's to_out in column block g
            NDArray nullTokens,   // [G, D]
            NDArray nullK,        // [G, H, 1, dh]
            NDArray nullV,        // [G, H, 1, dh]
            NDArray ff1,          // [F, D] after RMSNorm
            NDArray ff1Bias,      // [F]
            NDArray ff2,          // [D, F]
            NDArray ff2Bias) {    // [D]

        NDArray get(StepSlots.Layer slot) {
            return switch (slot) {
                case LN_WEIGHT -> lnWeight;
                case LN_BIAS -> lnBias;
                case LOCAL_IN -> localIn;
                case LOCAL_OUT -> localOut;
                case QUERY_TOKENS -> queryTokensT;
                case KV_TOKENS -> kvTokensT;
                case ROUTED_Q -> routedQ;
                case ROUTED_KV -> routedKv;
                case ROUTED_OUT -> routedOut;
                case NULL_TOKENS -> nullTokens;
                case NULL_K -> nullK;
                case NULL_V -> nullV;
                case FF1 -> ff1;
                case FF1_BIAS -> ff1Bias;
                case FF2 -> ff2;
                case FF2_BIAS -> ff2Bias;
            };
        }
    }

    final ModelConfig config;
    final DataType dtype;     // of the matmul weights, the pool's keys/values and matmul inputs
    final Layer[] layers;
    final NDArray tokenEmb;   // [V, D]
    final NDArray posEmb;     // [S, D]
    final NDArray ropeQkv;    // [S', 2, 3, 1, dh]: cos, and sin signed for roll (−sin in the first half), for q and k; 1 and 0 for v
    final NDArray logits;     // [V, D] after RMSNorm
    final NDArray logitsBias; // [V]
    final NDArray finalNorm;  // [D] √D · final gamma: the final RMSNorm after normalize (embeddings)

    DecodeWeights(MoaWeights w, NDManager manager, DataType dtype) {
        this.config = w.config();
        this.dtype = dtype;
        ModelConfig c = config;
        int d = c.dim(), g = c.numExperts(), h = c.heads(), dh = c.dimHead(), i = c.inner();
        float rootD = (float) Math.sqrt(d);
        float scale = (float) (1.0 / Math.sqrt(dh));
        layers = new Layer[c.depth()];
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            for (int l = 0; l < c.depth(); l++) {
                String a = "layers." + l + ".0.";
                String f = "layers." + l + ".1.";
                NDArray qkv = w.param(a + "local_attn.to_qkv.weight");             // [3I, D]
                NDArray localIn = NDArrays.concat(new NDList(qkv.get(new NDIndex("0:" + i)).mul(scale),
                        qkv.get(new NDIndex(i + ":"))), 0);

                NDArray qGamma = w.param(a + "attn.norm.gamma").reshape(g, 1, d).mul(rootD);
                NDArray routedQ = w.param(a + "attn.to_q.weight").reshape(g, i, d).mul(qGamma).mul(scale)
                        .reshape((long) g * i, d);
                NDArray cGamma = w.param(a + "attn.context_norm.gamma").reshape(g, 1, d).mul(rootD);
                NDArray routedKv = w.param(a + "attn.to_kv.weight").reshape(g, 2 * i, d).mul(cGamma)
                        .reshape(g * 2L * i, d);
                NDArray routedOut = w.param(a + "attn.to_out.weight").reshape(g, d, i).transpose(1, 0, 2)
                        .reshape(d, (long) g * i);
                NDArray nullKv = w.param(a + "attn.null_kv");
                NDArray ffGamma = w.param(f + "0.gamma").mul(rootD).reshape(1, d);
                layers[l] = new Layer(
                        keep(w.param(a + "local_attn.norm.weight").duplicate(), manager),
                        keep(w.param(a + "local_attn.norm.bias").duplicate(), manager),
                        keep(cast(localIn, dtype), manager),
                        keep(cast(w.param(a + "local_attn.to_out.weight").duplicate(), dtype), manager),
                        keep(routingTokens(c, w.param(a + "query_router.routing_token")), manager),
                        keep(routingTokens(c, w.param(a + "key_value_router.routing_token")), manager),
                        keep(cast(routedQ, dtype), manager),
                        keep(cast(routedKv, dtype), manager),
                        keep(cast(routedOut, dtype), manager),
                        keep(w.param(a + "null_tokens").duplicate(), manager),
                        keep(cast(nullKv.get(0).duplicate(), dtype), manager),
                        keep(cast(nullKv.get(1).duplicate(), dtype), manager),
                        keep(cast(w.param(f + "1.weight").mul(ffGamma), dtype), manager),
                        keep(cast(w.param(f + "1.bias").duplicate(), dtype), manager),
                        keep(cast(w.param(f + "3.weight").duplicate(), dtype), manager),
                        keep(cast(w.param(f + "3.bias").duplicate(), dtype), manager));
            }
            tokenEmb = keep(w.tokenEmb().duplicate(), manager);
            posEmb = keep(w.posEmb().duplicate(), manager);
            // one table for every rotary: q and k's entries, and v's that leave it as it is (one rotary over q, k, v)
            NDArray sin = w.rope().sin().mul(rollSign(manager, dh));
            NDArray cos = w.rope().cos();
            ropeQkv = keep(NDArrays.stack(new NDList(NDArrays.stack(new NDList(cos, cos, cos.onesLike()), 1),
                    NDArrays.stack(new NDList(sin, sin, sin.zerosLike()), 1)), 1).expandDims(3), manager);
            logits = keep(cast(w.param("to_logits.1.weight").mul(w.finalGamma().mul(rootD).reshape(1, d)), dtype), manager);
            logitsBias = keep(cast(w.logitsBias().duplicate(), dtype), manager);
            finalNorm = keep(w.finalGamma().mul(rootD), manager);
        }
    }

    /** The weights as the step program takes them: the model-wide slots, then each layer's ({@link StepSlots}). */
    List<NDArray> scriptArguments() {
        List<NDArray> all = new ArrayList<>();
        for (StepSlots.Model slot : StepSlots.Model.values()) {
            all.add(switch (slot) {
                case TOKEN_EMB -> tokenEmb;
                case POS_EMB -> posEmb;
                case ROPE_QKV -> ropeQkv;
                case LOGITS -> logits;
                case LOGITS_BIAS -> logitsBias;
            });
        }
        for (Layer l : layers) {
            for (StepSlots.Layer slot : StepSlots.Layer.values()) {
                all.add(l.get(slot));
            }
        }
        return all;
    }

    private static NDArray cast(NDArray a, DataType dtype) {
        return a.getDataType() == dtype ? a : a.toType(dtype, false);
    }

    /** Routing tokens as the right operand of the score matmul: [G, D] → [D, G]. */
    private static NDArray routingTokens(ModelConfig c, NDArray tokens) {
        NDArray t = c.cosineSimRouting() ? Ops.l2normalize(tokens) : tokens;
        return t.transpose().duplicate();
    }

    /** rotate_half(x) = roll(x, dh/2) · sign, sign = −1 on the first half, +1 on the second. */
    private static NDArray rollSign(NDManager m, int dh) {
        float[] s = new float[dh];
        for (int j = 0; j < dh; j++) {
            s[j] = j < dh / 2 ? -1f : 1f;
        }
        return m.create(s);
    }

    private static NDArray keep(NDArray a, NDManager manager) {
        NDScope.unregister(a);
        a.attach(manager);
        return a;
    }
}

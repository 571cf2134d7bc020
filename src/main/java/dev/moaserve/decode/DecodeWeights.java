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

/**
 * The model's weights rearranged once, at load, so that a decode step needs as few tensor
 * operations as possible. Read-only; everything here is exact rearrangement of the state dict
 * except for float rounding of the folded products:
 * <ul>
 *   <li>RMSNorm gammas (and √D) are folded into the linear that follows them, so a norm is one
 *       {@code normalize};</li>
 *   <li>the attention scale dh^-½ is folded into the query projections;</li>
 *   <li>rotary's {@code rotate_half} (a signed permutation per head) is folded into extra rows of
 *       the q/k projections, so rotation is {@code a·cos + b·sin} with no matmul;</li>
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
            NDArray localIn,      // [5I, D]: q·s, k, v, rot(q)·s, rot(k)
            NDArray localOut,     // [D, I]
            NDArray queryTokensT, // [D, G] query routing tokens (l2-normalised if cosine routing)
            NDArray kvTokensT,    // [D, G] key/value routing tokens
            NDArray routedQ,      // [G·2I, D]: per expert q·s, rot(q)·s, after RMSNorm_g
            NDArray routedKv,     // [G·3I, D]: per expert k, v, rot(k), after RMSNorm'_g
            NDArray routedOut,    // [D, G·I]: expert g's to_out in column block g
            NDArray nullTokens,   // [G, D]
            NDArray nullK,        // [G, H, 1, dh]
            NDArray nullV,        // [G, H, 1, dh]
            NDArray ff1,          // [F, D] after RMSNorm
            NDArray ff1Bias,      // [F]
            NDArray ff2,          // [D, F]
            NDArray ff2Bias) {    // [D]
    }

    final ModelConfig config;
    final DataType dtype;     // of the matmul weights, the pool's keys/values and matmul inputs
    final Layer[] layers;
    final NDArray tokenEmb;   // [V, D]
    final NDArray posEmb;     // [S, D]
    final NDArray rope;       // [S', 2, dh]: cos, sin of absolute positions
    final NDArray logits;     // [V, D] after RMSNorm
    final NDArray logitsBias; // [V]
    final NDArray lowerJ;     // [w, w] bool: j < t (the router's tie rule: the lower position wins)
    final NDArray mergeLowerJ; // [C, C] bool for C = k_kv + w candidates of a window commit
    final NDArray rankSlots;  // [k_kv, 1] int64: 0..k_kv−1
    final NDArray zero;       // scalar 0, float

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
            NDArray perm = rotatePermutation(manager, dh);
            NDArray sign = rotateSign(manager, dh);
            for (int l = 0; l < c.depth(); l++) {
                String a = "layers." + l + ".0.";
                String f = "layers." + l + ".1.";
                NDArray qkv = w.param(a + "local_attn.to_qkv.weight");             // [3I, D]
                NDArray q = qkv.get(new NDIndex("0:" + i)).mul(scale);
                NDArray k = qkv.get(new NDIndex(i + ":" + 2 * i));
                NDArray v = qkv.get(new NDIndex(2 * i + ":"));
                NDArray localIn = NDArrays.concat(new NDList(q, k, v, rotate(q, h, dh, perm, sign),
                        rotate(k, h, dh, perm, sign)), 0);

                NDArray qGamma = w.param(a + "attn.norm.gamma").reshape(g, 1, d).mul(rootD);
                NDArray toQ = w.param(a + "attn.to_q.weight").reshape(g, i, d).mul(qGamma).mul(scale);
                NDArray routedQ = NDArrays.concat(new NDList(toQ, rotate(toQ, h, dh, perm, sign)), 1)
                        .reshape(g * 2L * i, d);
                NDArray cGamma = w.param(a + "attn.context_norm.gamma").reshape(g, 1, d).mul(rootD);
                NDArray toKv = w.param(a + "attn.to_kv.weight").reshape(g, 2 * i, d).mul(cGamma);
                NDArray toK = toKv.get(new NDIndex(":, 0:" + i));
                NDArray routedKv = NDArrays.concat(new NDList(toK, toKv.get(new NDIndex(":, " + i + ":")),
                        rotate(toK, h, dh, perm, sign)), 1).reshape(g * 3L * i, d);
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
            rope = keep(NDArrays.stack(new NDList(w.rope().cos(), w.rope().sin()), 1), manager);
            logits = keep(cast(w.param("to_logits.1.weight").mul(w.finalGamma().mul(rootD).reshape(1, d)), dtype), manager);
            logitsBias = keep(cast(w.logitsBias().duplicate(), dtype), manager);
            lowerJ = keep(lowerTriangle(manager, c.routedWindowSize()), manager);
            mergeLowerJ = keep(lowerTriangle(manager, c.numRoutedKeyValues() + c.routedWindowSize()), manager);
            rankSlots = keep(manager.arange(0, c.numRoutedKeyValues(), 1, ai.djl.ndarray.types.DataType.INT64)
                    .reshape(c.numRoutedKeyValues(), 1), manager);
            zero = keep(manager.create(0f), manager);
        }
    }

    private static NDArray cast(NDArray a, DataType dtype) {
        return a.getDataType() == dtype ? a : a.toType(dtype, false);
    }

    /** Routing tokens as the right operand of the score matmul: [G, D] → [D, G]. */
    private static NDArray routingTokens(ModelConfig c, NDArray tokens) {
        NDArray t = c.cosineSimRouting() ? Ops.l2normalize(tokens) : tokens;
        return t.transpose().duplicate();
    }

    /**
     * Rows of a projection [..., H·dh, D] permuted and signed per head so that its output is
     * {@code rotate_half} of the original output: out'[j] = −out[j + dh/2] for j < dh/2, else out[j − dh/2].
     */
    private static NDArray rotate(NDArray weight, int heads, int dh, NDArray perm, NDArray sign) {
        Shape s = weight.getShape();
        int n = s.dimension();
        long[] split = new long[n + 1];
        for (int a = 0; a < n - 2; a++) {
            split[a] = s.get(a);
        }
        split[n - 2] = heads;
        split[n - 1] = dh;
        split[n] = s.get(n - 1);
        NDArray byHead = weight.reshape(split);                                 // [..., H, dh, D]
        NDArray moved = byHead.swapAxes(n - 1, 0).get(new NDIndex("{}", perm)).swapAxes(0, n - 1);
        return moved.mul(sign.reshape(dh, 1)).reshape(s);
    }

    private static NDArray rotatePermutation(NDManager m, int dh) {
        long[] p = new long[dh];
        for (int j = 0; j < dh; j++) {
            p[j] = j < dh / 2 ? j + dh / 2 : j - dh / 2;
        }
        return m.create(p);
    }

    private static NDArray rotateSign(NDManager m, int dh) {
        float[] s = new float[dh];
        for (int j = 0; j < dh; j++) {
            s[j] = j < dh / 2 ? -1f : 1f;
        }
        return m.create(s);
    }

    /** [n, n] bool, true where column j &lt; row t. */
    private static NDArray lowerTriangle(NDManager m, int n) {
        boolean[] b = new boolean[n * n];
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < t; j++) {
                b[t * n + j] = true;
            }
        }
        return m.create(b, new Shape(n, n));
    }

    private static NDArray keep(NDArray a, NDManager manager) {
        NDScope.unregister(a);
        a.attach(manager);
        return a;
    }
}

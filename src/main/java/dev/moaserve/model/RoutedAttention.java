package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;

/**
 * Expert attention of routed queries over routed keys/values (the reference's grouped
 * {@code Attention}), for every expert at once. Leading axes "…" are any batch layout; G is the
 * expert axis. Keys and values of expert g are the two halves of its own {@code to_kv} block
 * (the canonical fix of the reference's cross-expert split).
 */
public final class RoutedAttention {
    private RoutedAttention() {}

    /**
     * Keys and values of routed context tokens, RMSNorm'_g → expert g's {@code to_kv} block →
     * rotary at absolute positions.
     *
     * @param hk   [..., G, Tk, D] hidden states of each expert's routed keys/values
     * @param kCos [..., G, Tk, dh] rotary tables at the keys' positions (and kSin)
     * @return {k, v}, each [..., G, H, Tk, dh]
     */
    public static NDList keysValues(ModelConfig c, MoaWeights.Layer w, Rope rope, NDArray hk, NDArray kCos, NDArray kSin) {
        NDArray kv = Ops.rmsNorm(hk, w.contextGamma()).matMul(w.toKv());      // [..., G, Tk, 2I]
        NDList halves = kv.split(new long[] {c.inner()}, kv.getShape().dimension() - 1);
        NDArray k = Ops.splitHeads(halves.get(0), c.heads());
        NDArray v = Ops.splitHeads(halves.get(1), c.heads());
        int headAxis = kCos.getShape().dimension() - 2;
        k = rope.apply(k, kCos.expandDims(headAxis), kSin.expandDims(headAxis));
        return new NDList(k, v);
    }

    /**
     * @param hq    [..., G, Tq, D] hidden states of each expert's routed queries (before any norm)
     * @param qCos  [..., G, Tq, dh] rotary tables at the queries' absolute positions (and qSin)
     * @param k     [..., G, H, Tk, dh] routed keys from {@link #keysValues} (and v)
     * @param kBias [..., G, Tk] additive key mask (0 or {@link Ops#NEG}), or null if all valid
     * @return [..., G, Tq, D] expert outputs (before scattering back to positions)
     */
    public static NDArray attend(ModelConfig c, MoaWeights.Layer w, Rope rope,
                                 NDArray hq, NDArray qCos, NDArray qSin, NDArray k, NDArray v, NDArray kBias) {
        NDArray q = Ops.rmsNorm(hq, w.queryGamma()).matMul(w.toQ());          // [..., G, Tq, I]
        q = Ops.splitHeads(q, c.heads());                                     // [..., G, H, Tq, dh]
        int headAxis = qCos.getShape().dimension() - 2;
        q = rope.apply(q, qCos.expandDims(headAxis), qSin.expandDims(headAxis));

        // prepend the learned null key/value (never masked, not rotated)
        Shape ks = k.getShape();
        long[] nullDims = ks.getShape().clone();
        int tokenAxis = ks.dimension() - 2;
        nullDims[tokenAxis] = 1;
        Shape nullShape = new Shape(nullDims);
        k = w.nullK().broadcast(nullShape).concat(k, tokenAxis);              // [..., G, H, 1+Tk, dh]
        v = w.nullV().broadcast(nullShape).concat(v, tokenAxis);

        NDArray bias = null;
        if (kBias != null) {
            Shape bs = kBias.getShape();
            long[] zeroDims = bs.getShape().clone();
            int last = bs.dimension() - 1;
            zeroDims[last] = 1;
            NDArray zero = kBias.getManager().zeros(new Shape(zeroDims));
            bias = NDArrays.concat(new NDList(zero, kBias), last)             // [..., G, 1+Tk]
                    .expandDims(last).expandDims(last);                       // [..., G, 1, 1, 1+Tk]
        }
        NDArray out = Ops.attention(q, k, v, bias, (float) (1.0 / Math.sqrt(c.dimHead())));
        return Ops.mergeHeads(out).matMul(w.toOut());                         // [..., G, Tq, D]
    }
}

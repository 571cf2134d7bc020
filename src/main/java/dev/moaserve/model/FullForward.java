package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

import java.util.List;

/**
 * The full forward pass of the canonical MoA {@code Transformer} over whole sequences, all
 * windows at once (the reference's computation). It defines the model; the incremental decoder
 * is checked against it. Routing selections are made on the host with the exact canonical rule
 * ({@link TopK}); routed queries are gathered and scattered with one-hot matmuls over their
 * window (O(w) each) and routed keys/values are gathered by index (their context grows with N),
 * both exact.
 *
 * <p>Callers own array lifetimes: run inside an {@code NDScope}; {@code m} receives the arrays
 * this class creates from host data.
 */
public final class FullForward {
    private FullForward() {}

    /**
     * @param ids    [B, N] token ids (int64), N ≤ seq_len
     * @param hidden if not null, receives the residual stream after each layer, [B, N, D] each
     * @return logits [B, N, V]
     */
    public static NDArray logits(MoaWeights w, NDManager m, NDArray ids, List<NDArray> hidden) {
        return logits(w, m, ids, hidden, false);
    }

    /**
     * @param train adds the routers' straight-through gates (value 1, gradient of the
     *              coordinate-descent scores) so the routing tokens learn; same values otherwise
     */
    public static NDArray logits(MoaWeights w, NDManager m, NDArray ids, List<NDArray> hidden, boolean train) {
        return logits(w, m, ids, hidden, train, Dropout.NONE);
    }

    /** As above, with {@code dropout} on the embeddings and on each sublayer's output (training only). */
    public static NDArray logits(MoaWeights w, NDManager m, NDArray ids, List<NDArray> hidden, boolean train,
                                 Dropout dropout) {
        return Ops.logits(w, finalHidden(w, m, ids, hidden, train, dropout));
    }

    /**
     * The residual stream after the last layer (before the final norm), [B, N] ids → [B, N, D];
     * {@code hidden}, if not null, receives it after each layer.
     */
    public static NDArray finalHidden(MoaWeights w, NDManager m, NDArray ids, List<NDArray> hidden, boolean train) {
        return finalHidden(w, m, ids, hidden, train, Dropout.NONE);
    }

    private static NDArray finalHidden(MoaWeights w, NDManager m, NDArray ids, List<NDArray> hidden, boolean train,
                                       Dropout dropout) {
        NDArray h = dropout.apply(m, embed(w, ids));
        for (int l = 0; l < w.config().depth(); l++) {
            h = layer(w, m, l, h, train, dropout);
            if (hidden != null) {
                hidden.add(h);
            }
        }
        return h;
    }

    /** token_emb[x] + pos_emb[0..N): [B, N] → [B, N, D]. */
    public static NDArray embed(MoaWeights w, NDArray ids) {
        long n = ids.getShape().get(1);
        return w.tokenEmb().get(ids).add(w.posEmb().get(new NDIndex("0:" + n)));
    }

    /** One residual layer: h + MoAA(h), then + FF. */
    public static NDArray layer(MoaWeights w, NDManager m, int l, NDArray h, boolean train) {
        return layer(w, m, l, h, train, Dropout.NONE);
    }

    /** As above, with {@code dropout} on each branch before it joins the residual stream (GPT-2's residual dropout). */
    static NDArray layer(MoaWeights w, NDManager m, int l, NDArray h, boolean train, Dropout dropout) {
        MoaWeights.Layer lw = w.layer(l);
        h = h.add(dropout.apply(m, moaAttention(w, m, lw, h, train)));
        return h.add(dropout.apply(m, Ops.feedForward(lw, h)));
    }

    /** MoAA(h) = local attention + routed expert outputs: [B, N, D] → [B, N, D]. */
    public static NDArray moaAttention(MoaWeights w, NDManager m, MoaWeights.Layer lw, NDArray h, boolean train) {
        ModelConfig c = w.config();
        int n = (int) h.getShape().get(1);
        NDArray local = localAttention(w, m, lw, h);
        int windows = (n + c.routedWindowSize() - 1) / c.routedWindowSize();
        if (windows <= 1) {
            return local;
        }
        return local.add(routed(w, m, lw, h, train));
    }

    /**
     * Causal local attention, query i over keys i−W..i, computed in blocks of W with one block
     * of look-back (as the reference does): O(N·W), not O(N²).
     */
    static NDArray localAttention(MoaWeights w, NDManager m, MoaWeights.Layer lw, NDArray h) {
        ModelConfig c = w.config();
        int bsz = (int) h.getShape().get(0);
        int n = (int) h.getShape().get(1);
        int win = c.localAttnWindowSize();
        int blocks = (n + win - 1) / win;
        int padded = blocks * win;

        NDArray qkv = Ops.layerNorm(h, lw.localNormWeight(), lw.localNormBias()).matMul(lw.localQkvT());
        if (padded > n) {
            qkv = qkv.concat(m.zeros(new Shape(bsz, padded - n, 3L * c.inner())), 1);
        }
        NDList parts = qkv.split(3, 2);
        Rope rope = w.rope();
        NDArray cos = rope.cos().get(new NDIndex("0:" + padded)).reshape(blocks, win, c.dimHead());
        NDArray sin = rope.sin().get(new NDIndex("0:" + padded)).reshape(blocks, win, c.dimHead());
        // [B, H, blocks, W, dh]
        NDArray q = blocked(parts.get(0), c, blocks, win);
        NDArray k = blocked(parts.get(1), c, blocks, win);
        NDArray v = blocked(parts.get(2), c, blocks, win);
        q = rope.apply(q, cos, sin);
        k = rope.apply(k, cos, sin);
        // keys of block b: blocks b−1 and b → [B, H, blocks, 2W, dh]
        k = lookAround(m, k);
        v = lookAround(m, v);
        NDArray out = Ops.attention(q, k, v, localBias(m, blocks, win), (float) (1.0 / Math.sqrt(c.dimHead())));
        // [B, H, blocks, W, dh] → [B, N, I]
        out = out.reshape(bsz, c.heads(), padded, c.dimHead()).transpose(0, 2, 1, 3).reshape(bsz, padded, c.inner());
        if (padded > n) {
            out = out.get(new NDIndex(":, 0:" + n));
        }
        return out.matMul(lw.localOutT());
    }

    private static NDArray blocked(NDArray x, ModelConfig c, int blocks, int win) {
        long bsz = x.getShape().get(0);
        return x.reshape(bsz, blocks, win, c.heads(), c.dimHead()).transpose(0, 3, 1, 2, 4);
    }

    private static NDArray lookAround(NDManager m, NDArray x) {
        Shape s = x.getShape();
        NDArray zero = m.zeros(new Shape(s.get(0), s.get(1), 1, s.get(3), s.get(4)));
        NDArray prev = zero.concat(x.get(new NDIndex(":, :, 0:" + (s.get(2) - 1))), 2);
        return prev.concat(x, 3);
    }

    /** [blocks, W, 2W] additive mask: look-around key j (abs (b−1)W + j) is visible iff n ≤ j ≤ n + W. */
    private static NDArray localBias(NDManager m, int blocks, int win) {
        float[] bias = new float[blocks * win * 2 * win];
        for (int b = 0; b < blocks; b++) {
            for (int i = 0; i < win; i++) {
                for (int j = 0; j < 2 * win; j++) {
                    boolean visible = j >= i && j <= i + win && (b > 0 || j >= win);
                    bias[(b * win + i) * 2 * win + j] = visible ? 0f : Ops.NEG;
                }
            }
        }
        return m.create(bias, new Shape(blocks, win, 2L * win));
    }

    /**
     * Routed expert outputs for windows ≥ 1 (window 0 gets none): [B, N, D].
     * Per window i and expert g, queries are the top-k_q of window i by the query router and
     * keys/values the top-k_kv of windows 0..i−1 by the key/value router.
     */
    static NDArray routed(MoaWeights w, NDManager m, MoaWeights.Layer lw, NDArray h, boolean train) {
        ModelConfig c = w.config();
        int bsz = (int) h.getShape().get(0);
        int n = (int) h.getShape().get(1);
        int d = c.dim(), g = c.numExperts(), win = c.routedWindowSize(), dh = c.dimHead();
        int windows = (n + win - 1) / win;
        int nq = windows - 1;
        int ctx = nq * win;
        int kq = Math.min(c.numRoutedQueries(), win);
        int kkv = Math.min(c.numRoutedKeyValues(), ctx);

        NDArray sqArr = Ops.routingScores(c, h, lw.queryRouting());              // [B, N, G]
        NDArray skvArr = Ops.routingScores(c, h, lw.kvRouting());
        float[] sq = sqArr.toFloatArray();
        float[] skv = skvArr.toFloatArray();

        float[] pq = new float[bsz * nq * g * kq * win];     // [B, nq, G, kq, w] one-hot
        long[] kvPos = new long[bsz * nq * g * kkv];         // [B, nq, G, kkv] context positions
        float[] kBias = new float[bsz * nq * g * kkv];       // [B, nq, G, kkv]
        for (int b = 0; b < bsz; b++) {
            RoutingSelection sel = RoutingSelection.of(c, sq, skv, b * n, n);
            for (int i = 1; i < windows; i++) {
                int start = i * win;
                for (int e = 0; e < g; e++) {
                    int own = (i - 1) * g + e;
                    int cell = (b * nq + i - 1) * g + e;
                    for (int j = 0; j < kq; j++) {
                        int p = sel.queries()[own * kq + j];
                        if (p >= 0) {
                            pq[(cell * kq + j) * win + p - start] = 1f;
                        }
                    }
                    for (int j = 0; j < kkv; j++) {
                        int p = sel.keys()[own * kkv + j];
                        if (p >= 0) {
                            kvPos[cell * kkv + j] = p;
                        } else {
                            kBias[cell * kkv + j] = Ops.NEG;
                        }
                    }
                }
            }
        }
        int padded = windows * win;
        NDArray hp = padded > n ? h.concat(m.zeros(new Shape(bsz, padded - n, d)), 1) : h;
        NDArray hWin = hp.reshape(bsz, windows, win, d).get(new NDIndex(":, 1:")).expandDims(2); // [B, nq, 1, w, D]
        Rope rope = w.rope();
        NDArray cosWin = rope.cos().get(new NDIndex("0:" + padded)).reshape(1, windows, 1, win, dh).get(new NDIndex(":, 1:"));
        NDArray sinWin = rope.sin().get(new NDIndex("0:" + padded)).reshape(1, windows, 1, win, dh).get(new NDIndex(":, 1:"));
        // routed keys/values by index: rows b·N + position of h, rows position of the rotary tables
        long[] kvRow = new long[kvPos.length];
        for (int r = 0; r < kvRow.length; r++) {
            kvRow[r] = (long) (r / (nq * g * kkv)) * n + kvPos[r];
        }
        Shape kvShape = new Shape(bsz, nq, g, kkv);
        NDArray kvPosArr = m.create(kvPos, kvShape);
        NDArray hKv = h.reshape(bsz * (long) n, d).get(m.create(kvRow)).reshape(bsz, nq, g, kkv, d);
        NDArray cosKv = rope.cos().get(kvPosArr.flatten()).reshape(bsz, nq, g, kkv, dh);
        NDArray sinKv = rope.sin().get(kvPosArr.flatten()).reshape(bsz, nq, g, kkv, dh);

        NDArray selQ = m.create(pq, new Shape(bsz, nq, g, kq, win));
        NDList kv = RoutedAttention.keysValues(c, lw, rope, hKv, cosKv, sinKv);   // [B, nq, G, H, kkv, dh]
        NDArray values = kv.get(1);
        NDArray queryGate = null;
        if (train) {
            NDArray[] gates = trainingGates(c, m, sqArr, skvArr, selQ, kvPosArr, n, windows);
            queryGate = gates[0];                                                  // [B, nq, G, kq, 1]
            values = values.mul(gates[1].expandDims(3));                           // × [B, nq, G, 1, kkv, 1]
        }
        NDArray out = RoutedAttention.attend(c, lw, rope,
                selQ.matMul(hWin), selQ.matMul(cosWin), selQ.matMul(sinWin),
                kv.get(0), values, m.create(kBias, new Shape(bsz, nq, g, kkv))); // [B, nq, G, kq, D]
        if (queryGate != null) {
            out = out.mul(queryGate);
        }

        // scatter back to window positions; unrouted positions take the expert's null token
        NDArray routedWin = selQ.swapAxes(3, 4).matMul(out);                      // [B, nq, G, w, D]
        NDArray unrouted = selQ.sum(new int[] {3}).neg().add(1f).expandDims(4);  // [B, nq, G, w, 1]
        routedWin = routedWin.add(unrouted.mul(lw.nullTokens().reshape(1, 1, g, 1, d)));
        NDArray perPos = routedWin.sum(new int[] {2}).reshape(bsz, ctx, d);      // windows 1.. → [B, nq·w, D]
        NDArray all = NDArrays.concat(new NDList(m.zeros(new Shape(bsz, win, d)), perPos), 1);
        return all.get(new NDIndex(":, 0:" + n));
    }

    /**
     * Straight-through router gates {@code c + (1 − c).detach()} at the selected positions, where
     * c are the coordinate-descent scores (as the reference's training forward): value 1, so
     * the output equals the inference forward, and the gradient of c reaches the routing tokens.
     *
     * @param kvPos [B, nq, G, kkv] context positions of the routed keys/values (int64)
     * @return {query gate [B, nq, G, kq, 1], key/value gate [B, nq, G, kkv, 1]}
     */
    private static NDArray[] trainingGates(ModelConfig c, NDManager m, NDArray sq, NDArray skv,
                                           NDArray selQ, NDArray kvPos, int n, int windows) {
        int bsz = (int) sq.getShape().get(0);
        int g = c.numExperts(), win = c.routedWindowSize();
        int nq = windows - 1, ctx = nq * win, padded = windows * win;
        // query router: per window i ≥ 1, over its w tokens (padding masked)
        NDArray sqp = padded > n ? sq.concat(m.zeros(new Shape(bsz, padded - n, g)), 1) : sq;
        NDArray sqWin = sqp.reshape(bsz, windows, win, g).get(new NDIndex(":, 1:")).transpose(0, 1, 3, 2); // [B, nq, G, w]
        float[] qMask = new float[nq * win];
        for (int i = 0; i < nq; i++) {
            for (int t = 0; t < win; t++) {
                qMask[i * win + t] = (i + 1) * win + t < n ? 1f : 0f;
            }
        }
        NDArray cq = CoordinateDescent.scores(c, sqWin, m.create(qMask, new Shape(1, nq, 1, win)),
                Math.min(c.numRoutedQueries() * c.fetchKRatio(), win));
        // key/value router: per window i ≥ 1, over the context windows 0..i−1
        NDArray skvCtx = skv.get(new NDIndex(":, 0:" + ctx)).transpose(0, 2, 1).expandDims(1);  // [B, 1, G, ctx]
        float[] kvMask = new float[nq * ctx];
        for (int i = 0; i < nq; i++) {
            for (int p = 0; p < (i + 1) * win; p++) {
                kvMask[i * ctx + p] = 1f;
            }
        }
        NDArray ckv = CoordinateDescent.scores(c, skvCtx.broadcast(bsz, nq, g, ctx),
                m.create(kvMask, new Shape(1, nq, 1, ctx)), Math.min(c.numRoutedKeyValues() * c.fetchKRatio(), ctx));
        NDArray gq = selQ.matMul(cq.expandDims(4));                                // [B, nq, G, kq, 1]
        NDArray gkv = ckv.gather(kvPos, 3).expandDims(4);                          // [B, nq, G, kkv, 1]
        return new NDArray[] {CoordinateDescent.straightThrough(gq), CoordinateDescent.straightThrough(gkv)};
    }
}

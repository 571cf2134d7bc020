package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

import java.util.List;

/**
 * The forward pass of a MoA encoder over a padded batch: token embedding + positions, then per
 * layer x + MixtureOfAttention(x), x + FF(x), then the final RMSNorm. Canonical semantics: per
 * sequence and expert, the routed queries (and keys/values) are the top-k of its own real tokens
 * by routing logit, ties to the lower position (all of them when there are fewer); expert outputs
 * are summed at their positions, plus the local branch, or the null token where no expert routed.
 * Padded positions take part in nothing and come out as whatever the residual stream holds; pool
 * over the real ones. Selections are made on the host; gathers are by index, scatters one-hot
 * matmuls, both exact. Callers own array lifetimes (run inside an {@code NDScope}).
 */
public final class EncoderForward {
    private EncoderForward() {}

    /**
     * @param ids     [B, N] token ids (int64), N ≤ seq_len; position t of row b is real iff t &lt; lengths[b]
     * @param hidden  if not null, receives the residual stream after each layer, [B, N, D] each
     * @return [B, N, D] after the final norm
     */
    public static NDArray forward(EncoderWeights w, NDManager m, NDArray ids, int[] lengths, List<NDArray> hidden) {
        return forward(w, m, ids, lengths, hidden, false);
    }

    /**
     * @param train adds the routers' straight-through gates (value 1, gradient of the
     *              coordinate-descent scores over each sequence's real tokens) so the routing
     *              tokens learn; the values are those of the inference forward
     */
    public static NDArray forward(EncoderWeights w, NDManager m, NDArray ids, int[] lengths, List<NDArray> hidden,
                                  boolean train) {
        ModelConfig c = w.config().shape();
        long n = ids.getShape().get(1);
        NDArray x = w.tokenEmb().get(ids).add(w.posEmb().get(new NDIndex("0:" + n)));
        for (int l = 0; l < c.depth(); l++) {
            EncoderWeights.Mixture layer = w.layer(l);
            x = x.add(mixture(c, w.rope(), layer, m, x, lengths, null, null, train));
            x = x.add(Ops.feedForward(layer.w(), x));
            if (hidden != null) {
                hidden.add(x);
            }
        }
        return Ops.rmsNorm(x, w.finalGamma());
    }

    /**
     * One {@code MixtureOfAttention}: self-attention (context null: routed keys/values are x's own
     * tokens, with rotary at their positions) or cross-attention to {@code context} (no rotary, no
     * local branch, as the reference allows).
     *
     * @param x          [B, N, D]
     * @param context    [B, M, Dc] or null
     * @param ctxLengths real tokens of each context row (null for self-attention)
     * @return [B, N, D], zero at padded positions
     */
    public static NDArray mixture(ModelConfig c, Rope rope, EncoderWeights.Mixture layer, NDManager m, NDArray x,
                                  int[] lengths, NDArray context, int[] ctxLengths) {
        return mixture(c, rope, layer, m, x, lengths, context, ctxLengths, false);
    }

    /** As {@link #mixture(ModelConfig, Rope, EncoderWeights.Mixture, NDManager, NDArray, int[], NDArray, int[])}, with training gates. */
    static NDArray mixture(ModelConfig c, Rope rope, EncoderWeights.Mixture layer, NDManager m, NDArray x,
                           int[] lengths, NDArray context, int[] ctxLengths, boolean train) {
        MoaWeights.Layer lw = layer.w();
        boolean cross = context != null;
        NDArray ctx = cross ? context : x;
        int[] ctxLen = cross ? ctxLengths : lengths;
        int bsz = (int) x.getShape().get(0), n = (int) x.getShape().get(1), mctx = (int) ctx.getShape().get(1);
        int g = c.numExperts(), d = c.dim(), dc = (int) ctx.getShape().get(2), dh = c.dimHead();
        int kq = Math.min(c.numRoutedQueries(), n);
        int kkv = Math.min(c.numRoutedKeyValues(), mctx);

        NDArray sqArr = Ops.routingScores(c, x, lw.queryRouting());                 // [B, N, G]
        NDArray skvArr = Ops.routingScores(c, ctx, lw.kvRouting());                 // [B, M, G]
        float[] sq = sqArr.toFloatArray();
        float[] skv = skvArr.toFloatArray();
        long[] qPos = new long[bsz * g * kq];        // [B, G, kq] positions (0 for unused entries)
        long[] qRow = new long[qPos.length];         // rows of x flattened to [B·N, D]
        float[] qGate = new float[qPos.length];      // 1 for a routed query, 0 for an unused entry
        float[] scatter = new float[bsz * g * kq * n]; // [B, G, kq, N] one-hot of routed queries
        long[] kvPos = new long[bsz * g * kkv];
        long[] kvRow = new long[kvPos.length];
        float[] kvBias = new float[kvPos.length];    // 0, or NEG for an unused entry
        float[] routedCount = new float[bsz * n];
        for (int b = 0; b < bsz; b++) {
            for (int e = 0; e < g; e++) {
                TopK q = TopK.of(kq, sq, b * n * g + e, g, 0, lengths[b]);
                TopK kv = TopK.of(kkv, skv, b * mctx * g + e, g, 0, ctxLen[b]);
                int cell = b * g + e;
                for (int j = 0; j < kq; j++) {
                    int at = cell * kq + j;
                    if (j < q.size()) {
                        qPos[at] = q.position(j);
                        qGate[at] = 1f;
                        scatter[at * n + q.position(j)] = 1f;
                        routedCount[b * n + q.position(j)] += 1f;
                    }
                    qRow[at] = (long) b * n + qPos[at];
                }
                for (int j = 0; j < kkv; j++) {
                    int at = cell * kkv + j;
                    if (j < kv.size()) {
                        kvPos[at] = kv.position(j);
                    } else {
                        kvBias[at] = Ops.NEG;
                    }
                    kvRow[at] = (long) b * mctx + kvPos[at];
                }
            }
        }
        NDArray hq = x.reshape((long) bsz * n, d).get(m.create(qRow)).reshape(bsz, g, kq, d);
        NDArray hk = ctx.reshape((long) bsz * mctx, dc).get(m.create(kvRow)).reshape(bsz, g, kkv, dc);
        NDArray qCos, qSin, kCos, kSin;
        if (cross) { // the reference refuses rotary for cross-attention: rotate by nothing
            qCos = m.ones(new Shape(1, 1, 1, dh));
            qSin = m.zeros(new Shape(1, 1, 1, dh));
            kCos = qCos;
            kSin = qSin;
        } else {
            NDArray qp = m.create(qPos);
            NDArray kp = m.create(kvPos);
            qCos = rope.cos().get(qp).reshape(bsz, g, kq, dh);
            qSin = rope.sin().get(qp).reshape(bsz, g, kq, dh);
            kCos = rope.cos().get(kp).reshape(bsz, g, kkv, dh);
            kSin = rope.sin().get(kp).reshape(bsz, g, kkv, dh);
        }
        NDList kv = RoutedAttention.keysValues(c, lw, rope, hk, kCos, kSin);         // [B, G, H, kkv, dh]
        NDArray values = kv.get(1);
        NDArray queryGate = m.create(qGate, new Shape(bsz, g, kq, 1));
        if (train) {
            NDArray cq = gateScores(c, m, sqArr, lengths, c.numRoutedQueries());     // [B, G, N]
            NDArray ckv = gateScores(c, m, skvArr, ctxLen, c.numRoutedKeyValues());  // [B, G, M]
            queryGate = queryGate.mul(CoordinateDescent.straightThrough(
                    cq.gather(m.create(qPos, new Shape(bsz, g, kq)), 2)).expandDims(3));
            values = values.mul(CoordinateDescent.straightThrough(
                    ckv.gather(m.create(kvPos, new Shape(bsz, g, kkv)), 2)).reshape(bsz, g, 1, kkv, 1));
        }
        NDArray out = RoutedAttention.attend(c, lw, rope, hq, qCos, qSin, kv.get(0), values,
                m.create(kvBias, new Shape(bsz, g, kkv)));                           // [B, G, kq, D]
        out = out.mul(queryGate);
        // experts summed at their queries' positions
        NDArray routed = m.create(scatter, new Shape(bsz, g, kq, n)).swapAxes(2, 3).matMul(out).sum(new int[] {1}); // [B, N, D]
        NDArray valid = m.create(validMask(lengths, n), new Shape(bsz, n, 1));
        if (layer.nullRouted() == null) {
            routed = routed.add(localAttention(c, rope, lw, m, x, lengths));
        } else {
            float[] unrouted = new float[bsz * n];
            for (int i = 0; i < unrouted.length; i++) {
                unrouted[i] = routedCount[i] == 0 ? 1f : 0f;
            }
            routed = routed.add(m.create(unrouted, new Shape(bsz, n, 1)).mul(layer.nullRouted()));
        }
        return routed.mul(valid);
    }

    /**
     * The routers' coordinate-descent scores over each row's real tokens (target k·fetch_k_ratio,
     * at most the longest row), as the reference's training forward computes them.
     *
     * @param logits [B, N, G] routing logits
     * @return [B, G, N] scores, 0 at padded positions
     */
    private static NDArray gateScores(ModelConfig c, NDManager m, NDArray logits, int[] lengths, int k) {
        int bsz = (int) logits.getShape().get(0), n = (int) logits.getShape().get(1);
        NDArray mask = m.create(validMask(lengths, n), new Shape(bsz, 1, n));
        return CoordinateDescent.scores(c, logits.transpose(0, 2, 1), mask, Math.min(k * c.fetchKRatio(), n));
    }

    /**
     * The reference's non-causal {@code LocalMHA} (exact window): LayerNorm, then query t attends
     * to keys t−W..t+W that are real tokens, computed in blocks of W with one block each side.
     * Its rotary quirk is kept: queries are rotated as if W positions later than their keys
     * (the look-around's last block), so scores depend on (t + W) − s.
     */
    static NDArray localAttention(ModelConfig c, Rope rope, MoaWeights.Layer lw, NDManager m, NDArray x, int[] lengths) {
        int bsz = (int) x.getShape().get(0), n = (int) x.getShape().get(1);
        int win = c.localAttnWindowSize(), dh = c.dimHead(), heads = c.heads();
        int blocks = (n + win - 1) / win, padded = blocks * win;
        NDArray qkv = Ops.layerNorm(x, lw.localNormWeight(), lw.localNormBias()).matMul(lw.localQkvT());
        if (padded > n) {
            qkv = qkv.concat(m.zeros(new Shape(bsz, padded - n, 3L * c.inner())), 1);
        }
        NDList parts = qkv.split(3, 2);
        NDArray q = blocked(parts.get(0), bsz, blocks, win, heads, dh);              // [B, H, blocks, W, dh]
        NDArray k = blocked(parts.get(1), bsz, blocks, win, heads, dh);
        NDArray v = blocked(parts.get(2), bsz, blocks, win, heads, dh);
        q = rope.apply(q, table(rope.cos(), win, padded, blocks, win, dh), table(rope.sin(), win, padded, blocks, win, dh));
        k = rope.apply(k, table(rope.cos(), 0, padded, blocks, win, dh), table(rope.sin(), 0, padded, blocks, win, dh));
        k = lookAround(m, k);                                                         // [B, H, blocks, 3W, dh]
        v = lookAround(m, v);
        float[] bias = new float[bsz * blocks * win * 3 * win];
        for (int b = 0; b < bsz; b++) {
            for (int blk = 0; blk < blocks; blk++) {
                for (int i = 0; i < win; i++) {
                    int t = blk * win + i;
                    for (int j = 0; j < 3 * win; j++) {
                        int s = (blk - 1) * win + j;
                        boolean visible = s >= 0 && s < lengths[b] && Math.abs(t - s) <= win;
                        bias[((b * blocks + blk) * win + i) * 3 * win + j] = visible ? 0f : Ops.NEG;
                    }
                }
            }
        }
        NDArray out = Ops.attention(q, k, v, m.create(bias, new Shape(bsz, 1, blocks, win, 3L * win)),
                (float) (1.0 / Math.sqrt(dh)));
        out = out.reshape(bsz, heads, padded, dh).transpose(0, 2, 1, 3).reshape(bsz, padded, c.inner());
        if (padded > n) {
            out = out.get(new NDIndex(":, 0:" + n));
        }
        return out.matMul(lw.localOutT());
    }

    /** Rotary rows from..from+padded of a table, blocked: [blocks, W, dh]. */
    private static NDArray table(NDArray t, int from, int padded, int blocks, int win, int dh) {
        return t.get(new NDIndex(from + ":" + (from + padded))).reshape(blocks, win, dh);
    }

    private static NDArray blocked(NDArray x, int bsz, int blocks, int win, int heads, int dh) {
        return x.reshape(bsz, blocks, win, heads, dh).transpose(0, 3, 1, 2, 4);
    }

    /** Keys of block b: blocks b−1, b, b+1 (zeros beyond the ends, masked) → [B, H, blocks, 3W, dh]. */
    private static NDArray lookAround(NDManager m, NDArray x) {
        Shape s = x.getShape();
        NDArray zero = m.zeros(new Shape(s.get(0), s.get(1), 1, s.get(3), s.get(4)));
        long blocks = s.get(2);
        NDArray prev = zero.concat(x.get(new NDIndex(":, :, 0:" + (blocks - 1))), 2);
        NDArray next = x.get(new NDIndex(":, :, 1:")).concat(zero, 2);
        return prev.concat(x, 3).concat(next, 3);
    }

    private static float[] validMask(int[] lengths, int n) {
        float[] v = new float[lengths.length * n];
        for (int b = 0; b < lengths.length; b++) {
            for (int t = 0; t < lengths[b]; t++) {
                v[b * n + t] = 1f;
            }
        }
        return v;
    }
}

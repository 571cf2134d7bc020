package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Exact incremental decoding of canonical MoA, batched over sequences (MOA-SPEC "Incremental
 * decoding"). One {@link #step} appends 1..w tokens to each of S sequences (never crossing a
 * routed-window boundary) and recomputes each sequence's current window through all layers in
 * one padded [S, T] batch: local attention over the cached last W final positions plus the
 * window itself, routed attention of the window's top-k_q queries over each expert's cached
 * top-k_kv past. When a window fills up it becomes final and is folded into the caches
 * (running top-k merge), so per-step work and per-sequence memory do not grow with length.
 *
 * <p>Prefill is the same step with whole windows, so a prompt costs O(N) routing, and prompts of
 * several sequences are batched together. Not thread-safe: one scheduler thread drives it.
 */
public final class IncrementalDecoder {
    private final MoaWeights w;
    private final ModelConfig c;

    public IncrementalDecoder(MoaWeights weights) {
        this.w = weights;
        this.c = weights.config();
    }

    public ModelConfig config() {
        return c;
    }

    /** A fresh, empty sequence state (owned by the caller: close it when the sequence ends). */
    public DecodeState newState() {
        return new DecodeState(c, w.manager());
    }

    /** Feeds a whole prompt to a fresh state; returns the logits [V] for the next token. */
    public float[] prefill(DecodeState state, long[] prompt) {
        return prefill(List.of(state), List.of(prompt))[0];
    }

    /** Feeds prompts to states in batched window-sized chunks; returns next-token logits per state. */
    public float[][] prefill(List<DecodeState> states, List<long[]> prompts) {
        float[][] out = new float[states.size()][];
        int[] done = new int[states.size()];
        while (true) {
            List<DecodeState> batch = new ArrayList<>();
            List<long[]> chunks = new ArrayList<>();
            List<Integer> index = new ArrayList<>();
            for (int i = 0; i < states.size(); i++) {
                long[] p = prompts.get(i);
                if (done[i] < p.length) {
                    DecodeState s = states.get(i);
                    int room = c.routedWindowSize() - s.window.length;
                    int n = Math.min(room, p.length - done[i]);
                    batch.add(s);
                    chunks.add(Arrays.copyOfRange(p, done[i], done[i] + n));
                    index.add(i);
                    done[i] += n;
                }
            }
            if (batch.isEmpty()) {
                return out;
            }
            float[][] logits = step(batch, chunks);
            for (int j = 0; j < index.size(); j++) {
                out[index.get(j)] = logits[j];
            }
        }
    }

    /** Appends one token to each state; returns next-token logits per state. */
    public float[][] decode(List<DecodeState> states, long[] tokens) {
        List<long[]> appended = new ArrayList<>(tokens.length);
        for (long t : tokens) {
            appended.add(new long[] {t});
        }
        return step(states, appended);
    }

    /**
     * Appends {@code appended.get(i)} to {@code states.get(i)} (1..room tokens each) and returns
     * the logits [V] after the last appended token of each sequence.
     */
    public float[][] step(List<DecodeState> states, List<long[]> appended) {
        int S = states.size();
        if (S == 0 || appended.size() != S) {
            throw new IllegalArgumentException("step needs one token list per state");
        }
        int win = c.routedWindowSize();
        int[] count = new int[S];      // tokens in each current window after appending
        int[] start = new int[S];      // window start positions
        int tMax = 0;
        for (int s = 0; s < S; s++) {
            DecodeState st = states.get(s);
            long[] add = appended.get(s);
            if (st.isClosed()) {
                throw new IllegalStateException("decode state is closed");
            }
            if (add.length == 0 || st.window.length + add.length > win) {
                throw new IllegalArgumentException("sequence " + s + ": " + add.length + " tokens do not fit the "
                        + (win - st.window.length) + " left in its routed window");
            }
            if (st.length + add.length > c.seqLen()) {
                throw new IllegalArgumentException("sequence " + s + " would exceed the model's context (seq_len "
                        + c.seqLen() + ")");
            }
            for (long t : add) {
                if (t < 0 || t >= c.numTokens()) {
                    throw new IllegalArgumentException("token id " + t + " is out of range [0, " + c.numTokens() + ")");
                }
            }
            count[s] = st.window.length + add.length;
            start[s] = st.windowStart();
            tMax = Math.max(tMax, count[s]);
        }
        Djl.inferenceThread();
        try (NDManager m = w.manager().newSubManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            Step step = new Step(m, states, appended, count, start, tMax);
            return step.run();
        }
    }

    /** One batched step: the arrays of the padded [S, T] batch and the per-layer tensors needed to commit. */
    private final class Step {
        final NDManager m;
        final List<DecodeState> states;
        final int[] count;
        final int[] start;
        final int S;
        final int T;
        final long[][] tokens;
        final NDArray cos;       // [S, 1, T, dh]
        final NDArray sin;
        final NDArray localBias; // [S, 1, T, W + T]
        final boolean[] commit;
        final boolean anyCommit;
        final NDArray[] layerInput; // per layer [S, T, D], kept only when a window completes
        final NDArray[] layerK;     // per layer [S, H, T, dh]
        final NDArray[] layerV;

        Step(NDManager m, List<DecodeState> states, List<long[]> appended, int[] count, int[] start, int tMax) {
            this.m = m;
            this.states = states;
            this.count = count;
            this.start = start;
            this.S = states.size();
            this.T = tMax;
            int dh = c.dimHead();
            int bigW = c.localAttnWindowSize();
            tokens = new long[S][];
            long[] ids = new long[S * T];
            long[] pos = new long[S * T];
            float[] cosH = new float[S * T * dh];
            float[] sinH = new float[S * T * dh];
            float[] bias = new float[S * T * (bigW + T)];
            commit = new boolean[S];
            boolean any = false;
            Rope rope = w.rope();
            for (int s = 0; s < S; s++) {
                DecodeState st = states.get(s);
                long[] add = appended.get(s);
                long[] all = Arrays.copyOf(st.window, count[s]);
                System.arraycopy(add, 0, all, st.window.length, add.length);
                tokens[s] = all;
                commit[s] = count[s] == c.routedWindowSize();
                any |= commit[s];
                for (int t = 0; t < T; t++) {
                    int tt = Math.min(t, count[s] - 1);  // padding repeats the last real position
                    int p = start[s] + tt;
                    ids[s * T + t] = all[tt];
                    pos[s * T + t] = p;
                    System.arraycopy(rope.cosHost(), p * dh, cosH, (s * T + t) * dh, dh);
                    System.arraycopy(rope.sinHost(), p * dh, sinH, (s * T + t) * dh, dh);
                    int row = (s * T + t) * (bigW + T);
                    for (int slot = 0; slot < bigW; slot++) {
                        // cached slot holds position start − W + slot; visible iff ≥ 0 and within W of t
                        boolean visible = start[s] - bigW + slot >= 0 && slot >= t;
                        bias[row + slot] = visible ? 0f : Ops.NEG;
                    }
                    for (int j = 0; j < T; j++) {
                        boolean visible = j < count[s] && j <= t && t - j <= bigW;
                        bias[row + bigW + j] = visible ? 0f : Ops.NEG;
                    }
                }
            }
            anyCommit = any;
            this.ids = m.create(ids, new Shape(S, T));
            this.pos = m.create(pos, new Shape(S, T));
            cos = m.create(cosH, new Shape(S, 1, T, dh));
            sin = m.create(sinH, new Shape(S, 1, T, dh));
            localBias = m.create(bias, new Shape(S, 1, T, bigW + T));
            layerInput = new NDArray[c.depth()];
            layerK = new NDArray[c.depth()];
            layerV = new NDArray[c.depth()];
        }

        final NDArray ids;
        final NDArray pos;

        float[][] run() {
            NDArray h = w.tokenEmb().get(ids).add(w.posEmb().get(pos));        // [S, T, D]
            for (int l = 0; l < c.depth(); l++) {
                MoaWeights.Layer lw = w.layer(l);
                layerInput[l] = h;
                NDArray attn = local(l, lw, h);
                NDArray routed = routed(l, lw, h);
                if (routed != null) {
                    attn = attn.add(routed);
                }
                h = h.add(attn);
                h = h.add(Ops.feedForward(lw, h));
            }
            // logits at each sequence's last real position only
            float[] pick = new float[S * T];
            for (int s = 0; s < S; s++) {
                pick[s * T + count[s] - 1] = 1f;
            }
            NDArray last = m.create(pick, new Shape(S, 1, T)).matMul(h);         // [S, 1, D]
            float[] flat = Ops.logits(w, last).toFloatArray();                   // [S, 1, V]
            if (anyCommit) {
                commitWindows();
            }
            advance();
            int v = c.numTokens();
            float[][] out = new float[S][];
            for (int s = 0; s < S; s++) {
                out[s] = Arrays.copyOfRange(flat, s * v, (s + 1) * v);
            }
            return out;
        }

        /** Local attention of the window's positions over cached final positions + the window: [S, T, D]. */
        private NDArray local(int l, MoaWeights.Layer lw, NDArray h) {
            NDArray qkv = Ops.layerNorm(h, lw.localNormWeight(), lw.localNormBias()).matMul(lw.localQkvT());
            NDList parts = qkv.split(3, 2);
            Rope rope = w.rope();
            NDArray q = rope.apply(Ops.splitHeads(parts.get(0), c.heads()), cos, sin);  // [S, H, T, dh]
            NDArray k = rope.apply(Ops.splitHeads(parts.get(1), c.heads()), cos, sin);
            NDArray v = Ops.splitHeads(parts.get(2), c.heads());
            layerK[l] = k;
            layerV[l] = v;
            NDList cachedK = new NDList(S);
            NDList cachedV = new NDList(S);
            for (DecodeState st : states) {
                cachedK.add(st.layers[l].localK);
                cachedV.add(st.layers[l].localV);
            }
            NDArray keys = NDArrays.stack(cachedK, 0).concat(k, 2);               // [S, H, W + T, dh]
            NDArray values = NDArrays.stack(cachedV, 0).concat(v, 2);
            NDArray out = Ops.attention(q, keys, values, localBias, (float) (1.0 / Math.sqrt(c.dimHead())));
            return Ops.mergeHeads(out).matMul(lw.localOutT());
        }

        /** Routed expert outputs for sequences whose window index ≥ 1, null if none: [S, T, D]. */
        private NDArray routed(int l, MoaWeights.Layer lw, NDArray h) {
            int win = c.routedWindowSize();
            int g = c.numExperts();
            int kq = Math.min(c.numRoutedQueries(), win);
            int kkv = c.numRoutedKeyValues();
            boolean any = false;
            for (int s = 0; s < S; s++) {
                any |= start[s] >= win;
            }
            if (!any) {
                return null;
            }
            float[] sq = Ops.routingScores(c, h, lw.queryRouting()).toFloatArray(); // [S, T, G]
            float[] pq = new float[S * g * kq * T];                                  // [S, G, kq, T]
            float[] flag = new float[S];
            float[] kBias = new float[S * g * kkv];                                  // [S, G, kkv]
            for (int s = 0; s < S; s++) {
                DecodeState.LayerCache lc = states.get(s).layers[l];
                for (int e = 0; e < g; e++) {
                    for (int j = lc.past[e].size(); j < kkv; j++) {
                        kBias[(s * g + e) * kkv + j] = Ops.NEG;
                    }
                }
                if (start[s] < win) {
                    continue; // window 0: no routed output, no null tokens
                }
                flag[s] = 1f;
                for (int e = 0; e < g; e++) {
                    TopK sel = TopK.of(kq, sq, s * T * g + e, g, 0, count[s]);
                    for (int j = 0; j < sel.size(); j++) {
                        pq[((s * g + e) * kq + j) * T + sel.position(j)] = 1f;
                    }
                }
            }
            NDList ks = new NDList(S);
            NDList vs = new NDList(S);
            for (DecodeState st : states) {
                ks.add(st.layers[l].routedK);
                vs.add(st.layers[l].routedV);
            }
            NDArray selQ = m.create(pq, new Shape(S, g, kq, T));
            NDArray out = RoutedAttention.attend(c, lw, w.rope(),
                    selQ.matMul(h.expandDims(1)), selQ.matMul(cos), selQ.matMul(sin),
                    NDArrays.stack(ks, 0), NDArrays.stack(vs, 0),
                    m.create(kBias, new Shape(S, g, kkv)));                          // [S, G, kq, D]
            NDArray perPos = selQ.swapAxes(2, 3).matMul(out);                         // [S, G, T, D]
            NDArray unrouted = selQ.sum(new int[] {2}).neg().add(1f).expandDims(3);  // [S, G, T, 1]
            perPos = perPos.add(unrouted.mul(lw.nullTokens().reshape(1, g, 1, c.dim())));
            return perPos.sum(new int[] {1}).mul(m.create(flag, new Shape(S, 1, 1)));
        }

        /** Folds each completed window into its sequence's caches (local ring and running top-k). */
        private void commitWindows() {
            int win = c.routedWindowSize();
            int bigW = c.localAttnWindowSize();
            int g = c.numExperts();
            int kkv = c.numRoutedKeyValues();
            Rope rope = w.rope();
            for (int s = 0; s < S; s++) {
                if (!commit[s]) {
                    continue;
                }
                DecodeState st = states.get(s);
                NDArray cosW = cos.get(s).reshape(1, win, c.dimHead());   // [1, w, dh] (T == w here)
                NDArray sinW = sin.get(s).reshape(1, win, c.dimHead());
                for (int l = 0; l < c.depth(); l++) {
                    DecodeState.LayerCache lc = st.layers[l];
                    MoaWeights.Layer lw = w.layer(l);
                    // local: keep the last W final positions
                    NDArray k = layerK[l].get(s);                           // [H, w, dh]
                    NDArray v = layerV[l].get(s);
                    NDArray newK;
                    NDArray newV;
                    if (bigW <= win) {
                        newK = k.get(":, " + (win - bigW) + ":");
                        newV = v.get(":, " + (win - bigW) + ":");
                    } else {
                        newK = lc.localK.get(":, " + win + ":").concat(k, 1);
                        newV = lc.localV.get(":, " + win + ":").concat(v, 1);
                    }
                    lc.localK = st.replace(lc.localK, newK.duplicate());
                    lc.localV = st.replace(lc.localV, newV.duplicate());

                    // routed: merge the window's tokens into each expert's running top-k
                    NDArray hWin = layerInput[l].get(s);                    // [w, D]
                    float[] skv = Ops.routingScores(c, hWin, lw.kvRouting()).toFloatArray(); // [w, G]
                    NDList kvNew = RoutedAttention.keysValues(c, lw, rope, hWin.expandDims(0), cosW, sinW); // [G, H, w, dh]
                    float[] p = new float[g * kkv * (kkv + win)];           // [G, kkv, kkv + w] one-hot
                    for (int e = 0; e < g; e++) {
                        TopK old = lc.past[e];
                        TopK merged = old.copy();
                        for (int t = 0; t < win; t++) {
                            merged.offer(start[s] + t, skv[t * g + e]);
                        }
                        for (int j = 0; j < merged.size(); j++) {
                            int position = merged.position(j);
                            int source = position >= start[s] ? kkv + position - start[s] : slotOf(old, position);
                            p[(e * kkv + j) * (kkv + win) + source] = 1f;
                        }
                        lc.past[e] = merged;
                    }
                    NDArray sel = m.create(p, new Shape(g, 1, kkv, kkv + win));
                    lc.routedK = st.replace(lc.routedK, sel.matMul(lc.routedK.concat(kvNew.get(0), 2)));
                    lc.routedV = st.replace(lc.routedV, sel.matMul(lc.routedV.concat(kvNew.get(1), 2)));
                }
            }
        }

        private int slotOf(TopK old, int position) {
            for (int j = 0; j < old.size(); j++) {
                if (old.position(j) == position) {
                    return j;
                }
            }
            throw new IllegalStateException("position " + position + " not in the cached top-k");
        }

        private void advance() {
            for (int s = 0; s < S; s++) {
                DecodeState st = states.get(s);
                int added = count[s] - st.window.length;
                st.length += added;
                st.window = commit[s] ? new long[0] : tokens[s];
            }
        }
    }
}

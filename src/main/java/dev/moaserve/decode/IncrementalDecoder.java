package dev.moaserve.decode;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.pytorch.jni.JniUtils;
import dev.moaserve.model.Djl;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.Ops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * Exact incremental decoding of canonical MoA (MOA-SPEC "Incremental decoding") for a batch of
 * sequences whose state lives in a {@link StatePool}.
 *
 * <p>One {@link #step} appends 1..(w − fill) tokens to some sequences and returns the logits
 * after each one's last token. Only window rows whose output can differ from the previous step
 * are computed ({@link Recompute#LAZY}): at layer l those are the rows after the first row
 * whose input changed (local attention carries a change forward) plus rows whose query-routing
 * selection changed at layer l; everything else is read from the pool. A step where no earlier
 * row can change (window 0, a window holding ≤ k_q tokens, or k_q ≥ w) is a plain cached step.
 * Rows of all sequences are packed, so the number of tensor operations per step does not depend
 * on the batch size. Routing (scores and the top-k with ties to the lower position) runs as
 * tensor operations; a lazy step reads one [B, w] mask per layer back to plan the rows.
 *
 * <p>Not thread-safe: one scheduler thread drives it.
 */
public final class IncrementalDecoder implements AutoCloseable {
    /** Which current-window rows a step recomputes. */
    public enum Recompute {
        /** Only rows whose output can change (exact). */
        LAZY,
        /** Every row of the current window, every step (the first engine's rule; for comparisons). */
        ALL;

        /** {@code lazy} or {@code all}, any case. */
        public static Recompute parse(String name) {
            for (Recompute r : values()) {
                if (r.name().equalsIgnoreCase(name.trim())) {
                    return r;
                }
            }
            throw new IllegalArgumentException("recompute mode must be 'lazy' or 'all', got '" + name + "'");
        }
    }

    private final ModelConfig c;
    private final DecodeWeights w;
    private final StatePool pool;
    private StatePool parked;          // snapshots (prefix cache), created on first use
    private final Recompute mode;
    private final boolean half;        // matmuls in float16
    private final NDManager manager;
    private final StepStats stats = new StepStats();
    private final NDArray localWindow; // scalar W, float
    private final NDArray kqLimit;     // scalar k_q, int64
    private final NDArray neg;         // scalar NEG, float
    private final NDArray routingScale; // scalar cosine_sim_scale, float
    private boolean closed;
    private final int maxThreads;   // libtorch intra-op threads available
    private int threads;            // intra-op threads in use now

    public IncrementalDecoder(MoaWeights weights) {
        this(weights, 8, Recompute.LAZY);
    }

    /**
     * @param slots initial pool capacity (the largest expected batch; the pool grows beyond it)
     */
    public IncrementalDecoder(MoaWeights weights, int slots, Recompute mode) {
        this(weights, slots, mode, DataType.FLOAT32);
    }

    /**
     * @param dtype of the matmuls and of the pool's keys/values: FLOAT32 or FLOAT16 (norms,
     *              softmax, routing scores and top-k selection stay in float32)
     */
    public IncrementalDecoder(MoaWeights weights, int slots, Recompute mode, DataType dtype) {
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16) {
            throw new IllegalArgumentException("decoder dtype must be float32 or float16, got " + dtype);
        }
        this.c = weights.config();
        this.mode = mode;
        this.half = dtype != DataType.FLOAT32;
        this.manager = weights.manager().newSubManager();
        this.w = new DecodeWeights(weights, manager, dtype);
        this.pool = allocatePool(slots);
        this.localWindow = manager.create((float) c.localAttnWindowSize());
        this.kqLimit = manager.create((long) Math.min(c.numRoutedQueries(), c.routedWindowSize()));
        this.neg = manager.create(Ops.NEG);
        this.routingScale = manager.create((float) c.cosineSimScale());
        this.maxThreads = Math.max(1, JniUtils.getNumThreads());
        this.threads = maxThreads;
    }

    /** The running-state pool; an allocation failure (device out of memory) says what was asked for. */
    private StatePool allocatePool(int slots) {
        try {
            return new StatePool(w, manager, slots);
        } catch (ai.djl.engine.EngineException e) {
            ai.djl.Device device = manager.getDevice();
            manager.close();
            throw new PoolAllocationException(slots, bytesPerSequence(), device, e);
        }
    }

    /** The decode-state pool did not fit in the device's memory. */
    public static final class PoolAllocationException extends IllegalStateException {
        PoolAllocationException(int slots, long bytesPerSlot, ai.djl.Device device, Throwable cause) {
            super(String.format(java.util.Locale.ROOT, "cannot allocate the decode-state pool on %s: %d slots × %d bytes = %.1f MB (%s)",
                    device, slots, bytesPerSlot, slots * (double) bytesPerSlot / 1e6, firstLine(cause.getMessage())), cause);
        }

        private static String firstLine(String s) {
            return s == null ? "" : s.lines().findFirst().orElse("");
        }
    }

    /** Steps with fewer new tokens than this run on one intra-op thread (see {@link #useThreads}). */
    static final int PARALLEL_FROM_TOKENS = 8;

    /**
     * A step of a few rows is bound by operation dispatch: spreading its tiny kernels over
     * OpenMP threads costs more than it gains (ENGINE-NOTES: one stream 1.5–2× faster on one
     * thread), while a batched step's matmuls gain from every core.
     */
    private void useThreads(int newTokens) {
        int want = newTokens < PARALLEL_FROM_TOKENS ? 1 : maxThreads;
        if (want != threads) {
            JniUtils.setNumThreads(want);
            threads = want;
        }
    }

    public ModelConfig config() {
        return c;
    }

    /** Data type of the matmuls and the pool's keys/values. */
    public DataType dtype() {
        return w.dtype;
    }

    /** Bytes of pool state one sequence holds with this decoder's dtype. */
    public long bytesPerSequence() {
        return StatePool.bytesPerSlot(c, half ? 2 : 4);
    }

    /** float32 activations → the matmul dtype. */
    private NDArray compute(NDArray x) {
        return half ? x.toType(w.dtype, false) : x;
    }

    /** Matmul results → float32 for norms, softmax and the residual stream. */
    private NDArray f32(NDArray x) {
        return half ? x.toType(DataType.FLOAT32, false) : x;
    }

    /** A linear in the matmul dtype, float32 in and out. */
    private NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        NDList y = bias == null ? Linear.linear(compute(x), weight) : Linear.linear(compute(x), weight, bias);
        return f32(y.singletonOrThrow());
    }

    /** Counters of the steps run so far (for benchmarks and tests). */
    public StepStats stats() {
        return stats;
    }

    /** A fresh, empty sequence state holding a pool slot (close it when the sequence ends). */
    public DecodeState newState() {
        DecodeState s = new DecodeState(this);
        pool.acquire(s);
        return s;
    }

    void release(DecodeState s) {
        if (!closed && s.pool != null) {
            s.pool.release(s);
        }
    }

    /**
     * A parked copy of {@code s}'s state (length, window fill and every pool tensor), in a
     * separate pool of the same layout on the same device: a snapshot that steps never touch,
     * to be {@link #fork forked} later. Close it to free its slot.
     */
    public DecodeState snapshot(DecodeState s) {
        if (parked == null) {
            parked = new StatePool(w, manager, 1);
        }
        DecodeState copy = new DecodeState(this);
        parked.acquire(copy);
        StatePool.copy(s.pool, s.slot, parked, copy.slot);
        copy.length = s.length;
        copy.fill = s.fill;
        return copy;
    }

    /**
     * A new running state that continues exactly where {@code src} (a snapshot or a running
     * state) stands: the same tokens consumed, the same tensors; they then evolve independently.
     */
    public DecodeState fork(DecodeState src) {
        DecodeState s = newState();
        StatePool.copy(src.pool, src.slot, pool, s.slot);
        s.length = src.length;
        s.fill = src.fill;
        return s;
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
                    int n = Math.min(roomInWindow(s), p.length - done[i]);
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

    /** How many tokens the next step may append to this state without crossing a window boundary. */
    public int roomInWindow(DecodeState s) {
        return c.routedWindowSize() - s.fill;
    }

    /** Appends one token to each state; returns next-token logits per state. */
    public float[][] decode(List<DecodeState> states, long[] tokens) {
        List<long[]> appended = new ArrayList<>(tokens.length);
        for (long t : tokens) {
            appended.add(new long[] {t});
        }
        return step(states, appended);
    }

    /** {@link #step(List, List, Function)} returning the logits on the host, [S][V]. */
    public float[][] step(List<DecodeState> states, List<long[]> appended) {
        return step(states, appended, logits -> {
            stats.transfers++;
            float[] flat = logits.toFloatArray();
            int v = c.numTokens();
            float[][] out = new float[states.size()][];
            for (int s = 0; s < out.length; s++) {
                out[s] = Arrays.copyOfRange(flat, s * v, (s + 1) * v);
            }
            return out;
        });
    }

    /**
     * Appends {@code appended.get(i)} to {@code states.get(i)} (1..room tokens each) and hands
     * the logits after each one's last token, [S, V] on the device, to {@code sink}, which must
     * return host data (the logits are freed when the step ends).
     */
    public <T> T step(List<DecodeState> states, List<long[]> appended, Function<NDArray, T> sink) {
        int s = states.size();
        if (s == 0 || appended.size() != s) {
            throw new IllegalArgumentException("step needs one token list per state");
        }
        int win = c.routedWindowSize();
        int slots = pool.active();
        long[][] add = new long[slots][];
        int[][] last = new int[s][];
        Set<DecodeState> seen = new HashSet<>();
        for (int j = 0; j < s; j++) {
            DecodeState st = states.get(j);
            long[] a = appended.get(j);
            if (closed) {
                throw new IllegalStateException("the decoder is closed");
            }
            if (st.isClosed() || st.owner() != this) {
                throw new IllegalStateException("decode state is closed or belongs to another decoder");
            }
            if (st.pool != pool) {
                throw new IllegalArgumentException("a snapshot cannot be stepped: fork it first");
            }
            if (!seen.add(st)) {
                throw new IllegalArgumentException("a state appears twice in one step");
            }
            if (a.length == 0 || st.fill + a.length > win) {
                throw new IllegalArgumentException("sequence " + j + ": " + a.length + " tokens do not fit the "
                        + (win - st.fill) + " left in its routed window");
            }
            if (st.length + a.length > c.seqLen()) {
                throw new IllegalArgumentException("sequence " + j + " would exceed the model's context (seq_len "
                        + c.seqLen() + ")");
            }
            for (long t : a) {
                if (t < 0 || t >= c.numTokens()) {
                    throw new IllegalArgumentException("token id " + t + " is out of range [0, " + c.numTokens() + ")");
                }
            }
            add[st.slot] = a;
            last[j] = new int[] {st.slot, st.fill + a.length - 1};
        }
        Djl.inferenceThread();
        T out;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            Step step = new Step(slots, add, last);
            useThreads(step.fresh);
            out = step.run(sink);
            stats.ops += StepStats.scopeSize(scope);
        }
        stats.steps++;
        for (int b = 0; b < slots; b++) {
            if (add[b] != null) {
                DecodeState st = pool.holder(b);
                st.length += add[b].length;
                st.fill += add[b].length;
                if (st.fill == win) {
                    st.fill = 0;
                }
            }
        }
        return out;
    }

    /** One batched step over the pool's active slots [0, B). */
    private final class Step {
        final int slots;
        final int win;
        final int[] start;
        final int[] count;
        final long[][] add;
        final int[][] last;
        final boolean anyRouted;
        final boolean allRouted;   // every slot is past window 0
        final boolean cached;      // no earlier row can change: every layer computes the new rows only
        final int fresh;           // new tokens in this step
        final List<Integer> commits = new ArrayList<>();
        NDArray valid;      // [B, w] 1 for filled window offsets
        NDArray invalidBias; // [B, 1, w] 0 or NEG
        NDArray flag;       // [B] 1 if the slot's window index ≥ 1 (it has routed output)
        NDArray changed;    // [B, w] rows whose input changed (layer 0: the new tokens)
        NDArray localBias;  // [B·w, R] additive local-attention mask per window row
        StatePool.Lead lead; // views of the active slots

        Step(int slots, long[][] add, int[][] last) {
            this.slots = slots;
            this.win = c.routedWindowSize();
            this.add = add;
            this.last = last;
            start = new int[slots];
            count = new int[slots];
            boolean routed = false;
            boolean every = true;
            boolean cachedStep = true;
            int kq = c.numRoutedQueries();
            int tokens = 0;
            for (int b = 0; b < slots; b++) {
                DecodeState st = pool.holder(b);
                int added = add[b] == null ? 0 : add[b].length;
                tokens += added;
                start[b] = st.windowStart();
                count[b] = st.fill + added;
                routed |= start[b] >= win;
                every &= start[b] >= win;
                cachedStep &= start[b] < win || count[b] <= kq || kq >= win;
                if (count[b] == win && add[b] != null) {
                    commits.add(b);
                }
            }
            fresh = tokens;
            anyRouted = routed;
            allRouted = every;
            cached = cachedStep;
        }

        <T> T run(Function<NDArray, T> sink) {
            NDManager m = manager;
            int ring = pool.ring;
            // host data in: one float array (valid, query positions, new-row mask, flags) and one
            // int64 array (new tokens and where they go)
            float[] f = new float[3 * slots * win + slots];
            for (int b = 0; b < slots; b++) {
                int firstNew = count[b] - (add[b] == null ? 0 : add[b].length);
                f[3 * slots * win + b] = start[b] >= win ? 1f : 0f;
                for (int t = 0; t < win; t++) {
                    f[b * win + t] = t < count[b] ? 1f : 0f;
                    f[slots * win + b * win + t] = start[b] + t;
                    f[2 * slots * win + b * win + t] = t >= firstNew && t < count[b] ? 1f : 0f;
                }
            }
            long[] ids = new long[4 * fresh + commits.size()];
            int k = 0;
            for (int b = 0; b < slots; b++) {
                if (add[b] == null) {
                    continue;
                }
                for (int i = 0; i < add[b].length; i++) {
                    int t = count[b] - add[b].length + i;
                    long pos = start[b] + t;
                    ids[k] = add[b][i];
                    ids[fresh + k] = (long) b * win + t;
                    ids[2 * fresh + k] = pos;
                    ids[3 * fresh + k] = (long) b * ring + pos % ring;
                    k++;
                }
            }
            for (int i = 0; i < commits.size(); i++) {
                ids[4 * fresh + i] = commits.get(i);
            }
            stats.transfers += 2;
            NDList fl = m.create(f).split(new long[] {(long) slots * win, 2L * slots * win, 3L * slots * win});
            valid = fl.get(0).reshape(slots, win);
            NDArray qpos = fl.get(1).reshape(slots, win);
            changed = fl.get(2).reshape(slots, win);
            flag = fl.get(3);
            invalidBias = valid.sub(1f).mul(-Ops.NEG).expandDims(1);
            NDList il = m.create(ids).split(new long[] {fresh, 2L * fresh, 3L * fresh, 4L * fresh});

            // embeddings of the new tokens into layer 0's window rows; their positions into the ring
            NDArray emb = w.tokenEmb.get(new NDIndex("{}", il.get(0))).add(w.posEmb.get(new NDIndex("{}", il.get(2))));
            pool.layers[0].winHFlat.set(new NDIndex("{}", il.get(1)), emb);
            pool.ringPosFlat.set(new NDIndex("{}", il.get(3)), il.get(2).toType(DataType.FLOAT32, false));

            // local attention mask of every window row of the batch: key visible iff 0 ≤ q − k ≤ W
            lead = pool.lead();
            NDArray kpos = lead.ringPos;                                                        // [B, R]
            NDArray diff = qpos.expandDims(2).sub(kpos.expandDims(1));                          // [B, w, R]
            NDArray hidden = diff.lt(w.zero).logicalOr(diff.gt(localWindow));
            localBias = hidden.toType(DataType.FLOAT32, false).mul(neg).reshape((long) slots * win, ring);

            RowPlan plan = null;
            Rows rows = null;
            if (cached || mode == Recompute.ALL) {
                plan = fixedPlan();
                rows = upload(plan);
            }
            NDArray hLast = null;
            NDArray allValid = cached ? valid.expandDims(1).broadcast(slots, c.numExperts(), win) : null;
            for (int l = 0; l < c.depth(); l++) {
                NDArray sel;
                if (cached) {
                    sel = allValid;
                } else {
                    sel = select(l);
                }
                if (mode == Recompute.LAZY && !cached) {
                    NDArray selChanged = sel.sub(lead.winSel[l]).abs()
                            .sum(new int[] {1}).mul(flag.expandDims(1));                   // [B, w]
                    NDArray need = changed.cumSum(1).add(selChanged).gt(w.zero).logicalAnd(valid.gt(w.zero));
                    stats.transfers += 2;
                    plan = new RowPlan(need.toBooleanArray(), slots, win, ring, start, last);
                    rows = upload(plan);
                    changed = need.toType(DataType.FLOAT32, false);
                }
                pool.layers[l].winSel.set(NDIndex.sliceAxis(0, 0, slots), sel);
                stats.rows += plan.n;
                NDArray out = layer(l, rows, plan, sel);
                if (l + 1 < c.depth()) {
                    pool.layers[l + 1].winHFlat.set(new NDIndex("{}", rows.rows), out);
                } else {
                    hLast = out.get(new NDIndex("{}", rows.last));
                }
            }
            NDArray logits = linear(hLast.normalize(2, -1, 1e-12), w.logits, w.logitsBias);
            T result = sink.apply(logits);
            if (!commits.isEmpty()) {
                commit(il.get(4));
            }
            return result;
        }

        /** The rows of a step whose plan is known before it starts: new tokens only, or (ALL) every filled row. */
        private RowPlan fixedPlan() {
            boolean[] mask = new boolean[slots * win];
            for (int b = 0; b < slots; b++) {
                if (add[b] == null) {
                    continue;
                }
                int from = mode == Recompute.ALL ? 0 : count[b] - add[b].length;
                for (int t = from; t < count[b]; t++) {
                    mask[b * win + t] = true;
                }
            }
            return new RowPlan(mask, slots, win, pool.ring, start, last);
        }

        private Rows upload(RowPlan plan) {
            NDList parts = manager.create(plan.indices).split(plan.splitPoints());
            NDList cs = w.rope.get(new NDIndex("{}", parts.get(3))).split(2, 1);                   // [n, 1, dh] ×2
            return new Rows(parts.get(0), parts.get(1), parts.get(2), parts.get(3), parts.get(4), parts.get(5),
                    parts.get(6), parts.get(7), parts.get(8), cs.get(0), cs.get(1),
                    localBias.get(new NDIndex("{}", parts.get(6))));
        }

        /**
         * The canonical query-routing selection of every slot's current window at layer l:
         * top-k_q by routing logit, ties to the lower position, among filled rows. [B, G, w] 0/1.
         */
        private NDArray select(int l) {
            NDArray h = lead.winH[l];                                                        // [B, w, D]
            NDArray s = scores(h, w.layers[l].queryTokensT()).add(invalidBias);               // [B, G, w]
            NDArray rank = rank(s, w.lowerJ);
            return rank.lt(kqLimit).toType(DataType.FLOAT32, false).mul(valid.expandDims(1));
        }

        /** Routing logits of window rows h [..., w, D] → [..., G, w]. */
        private NDArray scores(NDArray h, NDArray tokensT) {
            int n = h.getShape().dimension();
            if (c.cosineSimRouting()) {
                return h.normalize(2, -1, 1e-12).matMul(tokensT).mul(routingScale).swapAxes(n - 2, n - 1);
            }
            return h.matMul(tokensT).swapAxes(n - 2, n - 1);
        }

        /** Rank of each entry along the last axis by (score desc, index asc): [..., C] → [..., C] int64. */
        private NDArray rank(NDArray s, NDArray lowerJ) {
            int n = s.getShape().dimension();
            NDArray mine = s.expandDims(n);          // [..., C(t), 1]
            NDArray other = s.expandDims(n - 1);     // [..., 1, C(j)]
            return other.gt(mine).logicalOr(other.eq(mine).logicalAnd(lowerJ)).sum(new int[] {n});
        }

        /** One layer on the planned rows: [n, D] inputs from the pool → [n, D] outputs. */
        private NDArray layer(int l, Rows r, RowPlan plan, NDArray sel) {
            DecodeWeights.Layer lw = w.layers[l];
            StatePool.Layer pl = pool.layers[l];
            int n = plan.n, h = c.heads(), dh = c.dimHead(), i = c.inner();
            NDArray x = pl.winHFlat.get(new NDIndex("{}", r.rows));                                  // [n, D]
            NDArray cos = r.cos;
            NDArray sin = r.sin;

            // local attention over the ring (final positions before the window, and the window)
            NDArray ln = LayerNorm.layerNorm(x, new Shape(c.dim()), lw.lnWeight(), lw.lnBias(), 1e-5f).singletonOrThrow();
            NDList qkv = linear(ln, lw.localIn(), null).split(new long[] {2L * i, 3L * i}, 1);
            NDArray qk = qkv.get(0).reshape(n, 2L * h, dh).mul(cos)
                    .add(qkv.get(2).reshape(n, 2L * h, dh).mul(sin));                                // [n, 2H, dh]
            NDList qAndK = qk.split(2, 1);
            pl.k.set(new NDIndex("{}, :, {}", r.slot, r.ring), compute(qAndK.get(1)));
            pl.v.set(new NDIndex("{}, :, {}", r.slot, r.ring), compute(qkv.get(1).reshape(n, h, dh)));
            NDArray local = inChunks(toBlocks(qAndK.get(0), r, plan), r, plan,                      // [n, I]
                    (q, rows, over, chunks) -> localAttention(q,
                            over == null ? lead.k[l] : pl.k.get(over), over == null ? lead.v[l] : pl.v.get(over),
                            r.localBias.get(rows), chunks, plan.tq));
            NDArray mix = linear(local, lw.localOut(), null);                                       // [n, D]

            if (anyRouted) {
                mix = mix.add(routed(l, r, plan, sel, x, cos, sin));
            }
            NDArray hOut = x.add(mix);
            NDArray ff = Activation.gelu(linear(hOut.normalize(2, -1, 1e-12), lw.ff1(), lw.ff1Bias()));
            return hOut.add(linear(ff, lw.ff2(), lw.ff2Bias()));
        }

        /**
         * Routed expert outputs of the planned rows: selected rows attend over the expert's null
         * key/value and kept top-k_kv past; unselected rows of windows ≥ 1 take the null token.
         */
        private NDArray routed(int l, Rows r, RowPlan plan, NDArray sel, NDArray x, NDArray cos, NDArray sin) {
            DecodeWeights.Layer lw = w.layers[l];
            StatePool.Layer pl = pool.layers[l];
            int n = plan.n, h = c.heads(), dh = c.dimHead(), i = c.inner(), g = c.numExperts();
            NDList qs = linear(x.normalize(2, -1, 1e-12), lw.routedQ(), null)
                    .reshape(n, g, 2, h, dh).split(2, 2);                                            // [n, G, 1, H, dh] ×2
            NDArray q = qs.get(0).mul(cos.reshape(n, 1, 1, 1, dh)).add(qs.get(1).mul(sin.reshape(n, 1, 1, 1, dh)))
                    .reshape(n, g, h, dh);
            NDArray perRow = inChunks(toBlocks(q, r, plan), r, plan,                                 // [n, G, I]
                    (qc, rows, over, chunks) -> routedAttention(qc,
                            over == null ? lead.routedK[l] : pl.routedK.get(over),
                            over == null ? lead.routedV[l] : pl.routedV.get(over),
                            over == null ? lead.routedBias[l] : pl.routedBias.get(over), chunks, plan.tq));
            if (cached && allRouted) {
                // every row of every slot is selected by every expert: no null tokens, no gating
                return linear(perRow.reshape(n, (long) g * i), lw.routedOut(), null);
            }
            NDArray rowFlag = flag.get(new NDIndex("{}", r.slot)).expandDims(1);                    // [n, 1]
            NDArray chosen = sel.swapAxes(1, 2).reshape((long) slots * win, g)
                    .get(new NDIndex("{}", r.rows)).mul(rowFlag);                                    // [n, G]
            NDArray out = linear(perRow.mul(chosen.expandDims(2)).reshape(n, (long) g * i), lw.routedOut(), null);
            return out.add(rowFlag.sub(chosen).matMul(lw.nullTokens()));
        }

        /**
         * Attention over a plan's chunks: chunk 0 of every slot reads the leading slots' keys in
         * place ({@code over} null), overflow chunks read the slots {@code over} gathers.
         * q [(B+O)·tq, ...] in block order → output rows [n, ...] in packed order.
         */
        private NDArray inChunks(NDArray q, Rows r, RowPlan plan, ChunkAttention attend) {
            int leading = slots * plan.tq;
            NDIndex first = NDIndex.sliceAxis(0, 0, leading);
            NDArray out = attend.apply(q.get(first), first, null, slots);
            if (plan.overflow > 0) {
                NDIndex rest = NDIndex.sliceAxis(0, leading, q.getShape().get(0));
                out = out.concat(attend.apply(q.get(rest), rest, new NDIndex("{}", r.overflow), plan.overflow), 0);
            }
            return fromBlocks(out, r, plan);
        }

        /** Packed rows [n, ...] → attention block order [(B+O)·tq, ...]. */
        private NDArray toBlocks(NDArray packed, Rows r, RowPlan plan) {
            return plan.identity ? packed : packed.get(new NDIndex("{}", r.block));
        }

        /** Attention block order [(B+O)·tq, ...] → packed rows [n, ...]. */
        private NDArray fromBlocks(NDArray blocks, Rows r, RowPlan plan) {
            return plan.identity ? blocks : blocks.get(new NDIndex("{}", r.unblock));
        }

        /**
         * Local attention of C chunks of tq query rows, chunk c over slot c's ring.
         * q [C·tq, H, dh], keys/values [C, H, R, dh], bias [C·tq, R] → [C·tq, I].
         */
        private NDArray localAttention(NDArray q, NDArray keys, NDArray values, NDArray bias, int chunks, int tq) {
            int h = c.heads(), dh = c.dimHead();
            long ring = keys.getShape().get(2);
            NDArray scores = f32(compute(q.reshape(chunks, tq, h, dh).transpose(0, 2, 1, 3)).matMul(keys.swapAxes(2, 3)));
            NDArray att = f32(compute(scores.add(bias.reshape(chunks, 1, tq, ring)).softmax(3)).matMul(values)); // [C, H, tq, dh]
            return att.transpose(0, 2, 1, 3).reshape((long) chunks * tq, c.inner());
        }

        /**
         * Every expert's attention of C chunks of tq query rows over slot c's null + kept keys.
         * q [C·tq, G, H, dh], keys/values [C, G, H, 1+kkv, dh], bias [C, G, 1, 1, 1+kkv] → [C·tq, G, I].
         */
        private NDArray routedAttention(NDArray q, NDArray keys, NDArray values, NDArray bias, int chunks, int tq) {
            int g = c.numExperts(), h = c.heads(), dh = c.dimHead();
            NDArray scores = f32(compute(q.reshape(chunks, tq, g, h, dh).transpose(0, 2, 3, 1, 4)).matMul(keys.swapAxes(3, 4)));
            NDArray att = f32(compute(scores.add(bias).softmax(4)).matMul(values));                 // [C, G, H, tq, dh]
            return att.transpose(0, 3, 1, 2, 4).reshape((long) chunks * tq, g, c.inner());
        }

        /**
         * Folds every completed window into its slot's routed top-k_kv, all committing slots at
         * once: candidates are the kept entries (in rank order) followed by the window's rows (in
         * position order), so ranking by (logit desc, candidate index asc) is the canonical rule.
         */
        private void commit(NDArray commitSlots) {
            int bc = commits.size();
            int g = c.numExperts(), h = c.heads(), dh = c.dimHead(), i = c.inner(), kkv = c.numRoutedKeyValues();
            long[] pos = new long[bc * win];
            for (int j = 0; j < bc; j++) {
                for (int t = 0; t < win; t++) {
                    pos[j * win + t] = start[commits.get(j)] + t;
                }
            }
            stats.transfers++;
            NDList cs = w.rope.get(new NDIndex("{}", manager.create(pos, new Shape(bc, win)))).split(2, 2);
            NDArray cos = cs.get(0).reshape(bc, win, 1, 1, 1, dh);                                   // [Bc, w, 1, 1, 1, dh]
            NDArray sin = cs.get(1).reshape(bc, win, 1, 1, 1, dh);
            NDIndex bySlot = new NDIndex("{}", commitSlots);
            NDIndex kept = new NDIndex("{}, :, :, 1:", commitSlots);
            for (int l = 0; l < c.depth(); l++) {
                DecodeWeights.Layer lw = w.layers[l];
                StatePool.Layer pl = pool.layers[l];
                NDArray hw = pl.winH.get(bySlot);                                                    // [Bc, w, D]
                NDArray newScore = scores(hw, lw.kvTokensT());                                       // [Bc, G, w]
                NDList kv = linear(hw.normalize(2, -1, 1e-12), lw.routedKv(), null)
                        .reshape(bc, win, g, 3, h, dh).split(3, 3);                                  // [Bc, w, G, 1, H, dh] ×3
                NDArray newK = kv.get(0).mul(cos).add(kv.get(2).mul(sin))
                        .reshape(bc, win, g, h, dh).transpose(0, 2, 3, 1, 4);                        // [Bc, G, H, w, dh]
                NDArray newV = kv.get(1).reshape(bc, win, g, h, dh).transpose(0, 2, 3, 1, 4);
                NDArray candScore = pl.routedScore.get(bySlot).concat(newScore, 2);                  // [Bc, G, C]
                NDArray candBias = pl.routedBias.get(bySlot).reshape(bc, g, 1 + kkv).get(new NDIndex(":, :, 1:"))
                        .concat(newScore.zerosLike(), 2);                                            // [Bc, G, C]
                NDArray pick = rank(candScore, w.mergeLowerJ).expandDims(2).eq(w.rankSlots)
                        .toType(DataType.FLOAT32, false);                                            // [Bc, G, kkv, C]
                NDArray pickH = compute(pick.expandDims(2));                                         // [Bc, G, 1, kkv, C]
                pl.routedK.set(kept, pickH.matMul(pl.routedK.get(kept).concat(compute(newK), 3)));
                pl.routedV.set(kept, pickH.matMul(pl.routedV.get(kept).concat(compute(newV), 3)));
                pl.routedScore.set(bySlot, pick.matMul(candScore.expandDims(3)).squeeze(3));
                pl.routedBias.set(new NDIndex("{}, :, :, :, 1:", commitSlots),
                        pick.matMul(candBias.expandDims(3)).reshape(bc, g, 1, 1, kkv));
                pl.winSel.set(bySlot, 0f);
            }
        }
    }

    /** Attention of {@code chunks} chunks of block rows {@code rows}; keys of the slots {@code over} gathers, or of the leading slots if null. */
    @FunctionalInterface
    private interface ChunkAttention {
        NDArray apply(NDArray q, NDIndex rows, NDIndex over, int chunks);
    }

    /** A row plan on the device. */
    private record Rows(NDArray rows, NDArray slot, NDArray ring, NDArray pos, NDArray unblock, NDArray block,
                        NDArray blockRow, NDArray overflow, NDArray last,
                        NDArray cos, NDArray sin,     // [n, 1, dh] rotary of each row's position
                        NDArray localBias) {}         // [(B+O)·tq, R] local mask of each block row

    /** Frees the weights' decode layout and the pool; states still open become unusable. */
    @Override
    public void close() {
        closed = true;
        useThreads(Integer.MAX_VALUE); // leave libtorch's thread setting as it was found
        manager.close();
    }
}

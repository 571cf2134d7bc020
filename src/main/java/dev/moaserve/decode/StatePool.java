package dev.moaserve.decode;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.Ops;

import java.util.ArrayList;
import java.util.List;

/**
 * The decode state of every sequence, in a few preallocated tensors indexed by slot: one per kind of
 * state, the per-layer kinds [L, P, ...] with each layer's tensor the view of its row.
 * Sequences that hold a slot occupy slots {@code 0..active−1} (a sequence that leaves is
 * replaced by the last one, one slot copy), so a step reads the running batch's state as the
 * leading slice of each tensor — a view, never a gather or a stack.
 *
 * <p>Per slot and layer (R = min(W, seq_len) + w local ring entries):
 * <ul>
 *   <li>local keys/values of the last R positions, at ring index {@code position mod R}: the W
 *       final positions before the current window and the window itself;</li>
 *   <li>the layer input of every current-window position (what lazy recompute reuses), the
 *       window's current query-routing selection and each row's query-routing logit;</li>
 *   <li>per expert the running top-k_kv routed keys/values of all completed windows, in rank
 *       order, with their routing logits, behind a fixed null key/value at entry 0.</li>
 * </ul>
 * Joining or leaving allocates nothing; only {@link #grow} (beyond the configured capacity)
 * does. The tensors are allocated uninitialised and each slot is written in full the first time
 * a sequence takes it ({@link #initialise}): zeroing the whole pool at startup faulted in every
 * page of it (~0.4 s for the 70 MB of the shipped model's 64 slots on 2 busy cores) before the
 * server could be ready, and an idle server kept memory it never used.
 */
final class StatePool implements AutoCloseable {
    /** Ring position of an empty entry: never within W of any query. */
    static final float EMPTY = -1e9f;

    static final class Layer {
        NDArray k;           // [P, H, R, dh] rotary at absolute positions
        NDArray v;           // [P, H, R, dh]
        NDArray winH;        // [P, w, D] layer input at each current-window offset
        NDArray winSel;      // [P, G, w] 0/1 query-routing selection of the current window
        NDArray routedK;     // [P, G, H, 1 + k_kv, dh] entry 0: the expert's null key
        NDArray routedV;     // [P, G, H, 1 + k_kv, dh]
        NDArray routedBias;  // [P, G, 1, 1, 1 + k_kv] 0, or NEG for an empty entry
        NDArray routedScore; // [P, G, k_kv] routing logits of the kept entries (NEG if empty)
        NDArray winLogit;    // [P, w, G] query-routing logit of each current-window row (frozen decoding ranks new rows against them)

        void set(StepSlots.PoolLayer slot, NDArray t) {
            switch (slot) {
                case K -> k = t;
                case V -> v = t;
                case WIN_H -> winH = t;
                case WIN_SEL -> winSel = t;
                case ROUTED_K -> routedK = t;
                case ROUTED_V -> routedV = t;
                case ROUTED_BIAS -> routedBias = t;
                case ROUTED_SCORE -> routedScore = t;
                case WIN_LOGIT -> winLogit = t;
            }
        }

        NDArray get(StepSlots.PoolLayer slot) {
            return switch (slot) {
                case K -> k;
                case V -> v;
                case WIN_H -> winH;
                case WIN_SEL -> winSel;
                case ROUTED_K -> routedK;
                case ROUTED_V -> routedV;
                case ROUTED_BIAS -> routedBias;
                case ROUTED_SCORE -> routedScore;
                case WIN_LOGIT -> winLogit;
            };
        }
    }

    private final ModelConfig c;
    private final DecodeWeights w;
    private final NDManager manager;
    final int ring;
    private int capacity;
    private int generation;
    private int active;
    /** Slots {@code 0..initialised−1} have been written in full; beyond, the memory is as allocated. */
    private int initialised;
    private DecodeState[] holders;
    NDArray ringPos;      // [P, R] position held by each ring entry (EMPTY if none)
    final Layer[] layers;
    /**
     * Each per-layer state for every layer at once, [L, P, ...] by {@link StepSlots.PoolLayer}: a
     * layer's tensor is a view of its row, so what runs once per layer (a window's commit) can run
     * once for all of them.
     */
    private final NDArray[] stacked = new NDArray[StepSlots.PoolLayer.values().length];

    StatePool(DecodeWeights w, NDManager parent, int capacity) {
        this.c = w.config;
        this.w = w;
        this.manager = parent.newSubManager();
        this.ring = ringSize(c);
        this.layers = new Layer[c.depth()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer();
        }
        allocate(Math.max(1, capacity));
        holders = new DecodeState[this.capacity];
    }

    /** Local ring entries per slot: the W final positions before the current window, and the window. */
    static int ringSize(ModelConfig c) {
        return Math.min(c.localAttnWindowSize(), c.seqLen()) + c.routedWindowSize();
    }

    /** Changes whenever the pool's tensors are reallocated (so argument lists built from them are stale). */
    int generation() {
        return generation;
    }

    int active() {
        return active;
    }

    int capacity() {
        return capacity;
    }

    DecodeState holder(int slot) {
        return holders[slot];
    }

    /** Gives a fresh, empty state the next free slot (growing the pool only if all are taken). */
    void acquire(DecodeState s) {
        if (active == capacity) {
            grow(capacity * 2);
        }
        int slot = active++;
        holders[slot] = s;
        s.slot = slot;
        s.pool = this;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            if (slot >= initialised) {
                initialise(slot);
            }
            ringPos.set(new NDIndex(slot), EMPTY);
            for (Layer L : layers) {
                L.winSel.set(new NDIndex(slot), 0f);
                L.routedBias.set(new NDIndex("{}, :, :, :, 1:", slot), Ops.NEG);
                L.routedScore.set(new NDIndex(slot), Ops.NEG);
            }
        }
    }

    /**
     * A slot's first use: every entry written (zeros, each expert's null key/value at entry 0), so
     * that masked entries hold finite values: a masked entry still enters the attention products
     * with weight 0, and 0 × NaN from uninitialised memory would be NaN. Slots are taken in order,
     * so the initialised ones stay a prefix.
     */
    private void initialise(int slot) {
        NDIndex row = new NDIndex(slot);
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            DecodeWeights.Layer lw = w.layers[l];
            for (StepSlots.PoolLayer t : StepSlots.PoolLayer.values()) {
                L.get(t).set(row, 0f);
            }
            L.routedK.set(new NDIndex("{}, :, :, 0:1", slot), lw.nullK());
            L.routedV.set(new NDIndex("{}, :, :, 0:1", slot), lw.nullV());
        }
        initialised = slot + 1;
    }

    /** Frees a slot; the last active slot moves into it so that active slots stay contiguous. */
    void release(DecodeState s) {
        int slot = s.slot;
        int last = --active;
        if (slot != last) {
            copySlot(last, slot);
            holders[slot] = holders[last];
            holders[slot].slot = slot;
        }
        holders[last] = null;
        s.slot = -1;
    }

    private void copySlot(int from, int to) {
        copy(this, from, this, to);
    }

    /**
     * Copies one slot's whole state into another slot, of this pool or another one with the same
     * layout (snapshots, forks): one device copy per kind of state, every layer at once, nothing
     * through the host.
     */
    static void copy(StatePool src, int from, StatePool dst, int to) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            dst.ringPos.set(new NDIndex(to), src.ringPos.get(new NDIndex(from)));
            NDIndex at = new NDIndex(":, {}", to);
            NDIndex of = new NDIndex(":, {}", from);
            for (int i = 0; i < src.stacked.length; i++) {
                dst.stacked[i].set(at, src.stacked[i].get(of));
            }
        }
    }

    /** Every pool tensor, full capacity: the model-wide slots, then each layer's ({@link StepSlots}). */
    List<NDArray> tensors() {
        List<NDArray> all = new ArrayList<>();
        for (StepSlots.Pool slot : StepSlots.Pool.values()) {
            all.add(switch (slot) {
                case RING_POS -> ringPos;
            });
        }
        for (Layer layer : layers) {
            for (StepSlots.PoolLayer slot : StepSlots.PoolLayer.values()) {
                all.add(layer.get(slot));
            }
        }
        return all;
    }

    /**
     * What the step program is given: {@link #tensors}, then every layer's state stacked, by
     * {@link StepSlots.PoolLayer} ([L, P, ...], the program's {@code stacked}).
     */
    List<NDArray> programTensors() {
        List<NDArray> all = tensors();
        all.addAll(List.of(stacked));
        return all;
    }

    /** Bytes of one slot's state (float32 keys/values): constant for a config, whatever the sequence length. */
    static long bytesPerSlot(ModelConfig c) {
        return bytesPerSlot(c, 4);
    }

    /** The same with keys/values of {@code kvBytes} bytes per element. */
    static long bytesPerSlot(ModelConfig c, int kvBytes) {
        long ring = Math.min(c.localAttnWindowSize(), c.seqLen()) + c.routedWindowSize();
        long h = c.heads(), dh = c.dimHead(), g = c.numExperts(), kkv = c.numRoutedKeyValues(), win = c.routedWindowSize();
        long kv = 2 * h * ring * dh + 2 * g * h * (1 + kkv) * dh;
        long rest = win * c.dim() + 2 * g * win + g * (1 + kkv) + g * kkv;
        return kvBytes * c.depth() * kv + 4 * (ring + c.depth() * rest);
    }

    /** Reallocates every tensor with room for {@code newCapacity} slots, keeping the active ones. */
    private void grow(int newCapacity) {
        NDArray oldRing = ringPos;
        NDArray[] oldStacked = stacked.clone();
        List<NDArray> oldViews = tensors();
        int keep = active;
        allocate(newCapacity);
        initialised = keep; // copied below; the slots after them are new memory
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            if (keep > 0) {
                ringPos.set(NDIndex.sliceAxis(0, 0, keep), oldRing.get(NDIndex.sliceAxis(0, 0, keep)));
                for (int i = 0; i < stacked.length; i++) {
                    stacked[i].set(NDIndex.sliceAxis(1, 0, keep), oldStacked[i].get(NDIndex.sliceAxis(1, 0, keep)));
                }
            }
        }
        oldViews.forEach(NDArray::close);
        for (NDArray t : oldStacked) {
            t.close();
        }
        DecodeState[] h = new DecodeState[newCapacity];
        if (holders != null) {
            System.arraycopy(holders, 0, h, 0, holders.length);
        }
        holders = h;
    }

    /** Allocates every tensor with room for {@code p} slots, uninitialised (see {@link #initialise}). */
    private void allocate(int p) {
        ringPos = keep(manager.create(new Shape(p, ring), DataType.FLOAT32));
        for (StepSlots.PoolLayer kind : StepSlots.PoolLayer.values()) {
            NDArray all = keep(manager.create(new Shape(layers.length, p).addAll(slotShape(kind)), dtype(kind)));
            stacked[kind.ordinal()] = all;
            for (int l = 0; l < layers.length; l++) {
                layers[l].set(kind, keep(all.get(l)));
            }
        }
        initialised = 0;
        capacity = p;
        generation++;
    }

    /** One slot's shape of a per-layer state ({@link Layer} has each one's meaning). */
    private Shape slotShape(StepSlots.PoolLayer kind) {
        int h = c.heads(), dh = c.dimHead(), g = c.numExperts(), kkv = c.numRoutedKeyValues();
        int win = c.routedWindowSize(), d = c.dim();
        return switch (kind) {
            case K, V -> new Shape(h, ring, dh);
            case WIN_H -> new Shape(win, d);
            case WIN_SEL -> new Shape(g, win);
            case ROUTED_K, ROUTED_V -> new Shape(g, h, 1 + kkv, dh);
            case ROUTED_BIAS -> new Shape(g, 1, 1, 1 + kkv);
            case ROUTED_SCORE -> new Shape(g, kkv);
            case WIN_LOGIT -> new Shape(win, g);
        };
    }

    /** Keys and values in the model's state dtype; the rest float32. */
    private DataType dtype(StepSlots.PoolLayer kind) {
        return switch (kind) {
            case K, V, ROUTED_K, ROUTED_V -> w.dtype;
            default -> DataType.FLOAT32;
        };
    }

    private NDArray keep(NDArray a) {
        NDScope.unregister(a);
        a.attach(manager);
        return a;
    }

    @Override
    public void close() {
        manager.close();
    }
}

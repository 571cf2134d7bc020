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
 * The decode state of every sequence, in a few preallocated tensors per layer indexed by slot.
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
     * layout (snapshots, forks): one device copy per tensor, nothing through the host.
     */
    static void copy(StatePool src, int from, StatePool dst, int to) {
        List<NDArray> a = src.tensors();
        List<NDArray> b = dst.tensors();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            for (int i = 0; i < a.size(); i++) {
                b.get(i).set(new NDIndex(to), a.get(i).get(new NDIndex(from)));
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
        List<NDArray> old = capacity > 0 ? tensors() : List.of();
        int keep = active;
        allocate(newCapacity);
        initialised = keep; // copied below; the slots after them are new memory
        List<NDArray> fresh = tensors();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            for (int i = 0; i < old.size(); i++) {
                if (keep > 0) {
                    fresh.get(i).set(NDIndex.sliceAxis(0, 0, keep), old.get(i).get(NDIndex.sliceAxis(0, 0, keep)));
                }
                old.get(i).close();
            }
        }
        DecodeState[] h = new DecodeState[newCapacity];
        if (holders != null) {
            System.arraycopy(holders, 0, h, 0, holders.length);
        }
        holders = h;
    }

    /** Allocates every tensor with room for {@code p} slots, uninitialised (see {@link #initialise}). */
    private void allocate(int p) {
        int h = c.heads(), dh = c.dimHead(), g = c.numExperts(), kkv = c.numRoutedKeyValues();
        int win = c.routedWindowSize(), d = c.dim();
        ringPos = keep(manager.create(new Shape(p, ring), DataType.FLOAT32));
        for (Layer L : layers) {
            L.k = keep(manager.create(new Shape(p, h, ring, dh), w.dtype));
            L.v = keep(manager.create(new Shape(p, h, ring, dh), w.dtype));
            L.winH = keep(manager.create(new Shape(p, win, d), DataType.FLOAT32));
            L.winSel = keep(manager.create(new Shape(p, g, win), DataType.FLOAT32));
            L.routedK = keep(manager.create(new Shape(p, g, h, 1 + kkv, dh), w.dtype));
            L.routedV = keep(manager.create(new Shape(p, g, h, 1 + kkv, dh), w.dtype));
            L.routedBias = keep(manager.create(new Shape(p, g, 1, 1, 1 + kkv), DataType.FLOAT32));
            L.routedScore = keep(manager.create(new Shape(p, g, kkv), DataType.FLOAT32));
            L.winLogit = keep(manager.create(new Shape(p, win, g), DataType.FLOAT32));
        }
        initialised = 0;
        capacity = p;
        generation++;
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

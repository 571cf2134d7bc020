package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;


/**
 * What one sequence carries between decode steps; its size is bounded independently of the
 * sequence length: per layer, the local K/V of the last W final positions and, per expert, the
 * running top-k_kv routed K/V of all completed windows; plus the tokens of the current partial
 * window, which is recomputed through all layers each step (its routing can still change).
 */
public final class DecodeState implements AutoCloseable {
    /** Per-layer cache. Slot s of the local buffers holds position {@code windowStart − W + s}. */
    static final class LayerCache {
        NDArray localK;  // [H, W, dh], rotary applied at absolute positions
        NDArray localV;  // [H, W, dh]
        NDArray routedK; // [G, H, k_kv, dh]; slot j of expert g holds past[g].position(j)
        NDArray routedV; // [G, H, k_kv, dh]
        TopK[] past;     // per expert: the selected past positions and their routing logits
    }

    private final NDManager manager;
    final LayerCache[] layers;
    final int routedWindow;
    int length;
    long[] window;
    private boolean closed;

    DecodeState(ModelConfig c, NDManager parent) {
        this.manager = parent.newSubManager();
        this.routedWindow = c.routedWindowSize();
        this.layers = new LayerCache[c.depth()];
        this.window = new long[0];
        int h = c.heads(), dh = c.dimHead(), g = c.numExperts(), kkv = c.numRoutedKeyValues();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            for (int l = 0; l < layers.length; l++) {
                LayerCache lc = new LayerCache();
                lc.localK = keep(manager.zeros(new Shape(h, c.localAttnWindowSize(), dh)));
                lc.localV = keep(manager.zeros(new Shape(h, c.localAttnWindowSize(), dh)));
                lc.routedK = keep(manager.zeros(new Shape(g, h, kkv, dh)));
                lc.routedV = keep(manager.zeros(new Shape(g, h, kkv, dh)));
                lc.past = new TopK[g];
                for (int e = 0; e < g; e++) {
                    lc.past[e] = new TopK(kkv);
                }
                layers[l] = lc;
            }
        }
    }

    /** Takes an array out of the current NDScope and gives it to this sequence. */
    NDArray keep(NDArray a) {
        NDScope.unregister(a);
        a.attach(manager);
        return a;
    }

    /** Replaces a cached array, freeing the old one at once. */
    NDArray replace(NDArray old, NDArray fresh) {
        NDArray kept = keep(fresh);
        old.close();
        return kept;
    }

    /** Tokens consumed so far. */
    public int length() {
        return length;
    }

    /** First position of the current (partial) window. */
    public int windowStart() {
        return length - window.length;
    }

    /** Native bytes held by the caches; constant for a given config, whatever the length. */
    public long bytes() {
        long n = 0;
        for (LayerCache lc : layers) {
            n += lc.localK.size() + lc.localV.size() + lc.routedK.size() + lc.routedV.size();
        }
        return 4 * n;
    }

    /** Bytes of one sequence's state for a config, without allocating it. */
    public static long bytesFor(ModelConfig c) {
        long perLayer = 2L * c.heads() * c.localAttnWindowSize() * c.dimHead()
                + 2L * c.numExperts() * c.heads() * c.numRoutedKeyValues() * c.dimHead();
        return 4 * c.depth() * perLayer;
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            manager.close();
        }
    }
}

package dev.moaserve.decode;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.RoutingTrace;

/**
 * The model's full forward of whole rows, by the decoder's step program ({@code whole_rows.py}):
 * for embeddings and for a text's routing. It reads the weights only, never a decode state, so
 * any thread may call it while the engine's loop steps.
 */
public final class WholeRows {
    private final ModelConfig c;
    private final ScriptedStep script;
    private final NDManager manager;

    WholeRows(ModelConfig c, ScriptedStep script, NDManager manager) {
        this.c = c;
        this.script = script;
        this.manager = manager;
    }

    /**
     * The full forward over right-padded rows in one call: ids [B, N] int64 on the decoder's
     * device, {@code lengths[b]} real tokens in row b → the final normed hidden states [B, N, D]
     * float32 in {@code m}; what padded positions hold is meaningless. Exact under the canonical
     * rule ({@link dev.moaserve.model.FullForward}).
     */
    public NDArray hidden(NDManager m, NDArray ids, int[] lengths) {
        long[] l = new long[lengths.length];
        for (int i = 0; i < l.length; i++) {
            l[i] = lengths[i];
        }
        try (NDArray lens = m.create(l)) {
            return script.hidden(ids, lens, m);
        }
    }

    /**
     * What the model routed over one text ({@code return_routing}): each layer's router logits
     * from one call of the same full forward, selected as {@link RoutingTrace#of} defines; its
     * arrays are freed on return.
     */
    public RoutingTrace routing(long[] ids) {
        if (ids.length == 0 || ids.length > c.seqLen()) {
            throw new IllegalArgumentException("routing takes 1 to " + c.seqLen() + " tokens, got " + ids.length);
        }
        try (NDManager m = manager.newSubManager()) {
            float[] scores = script.routingScores(m.create(ids, new Shape(1, ids.length)), m).toFloatArray(); // [L, 2, N, G]
            return RoutingTrace.ofScores(c, ids.length, scores);
        }
    }
}

package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.List;

/**
 * What a MoA model routed over a whole text, by its definition: the {@link FullForward} of the
 * tokens, and at each layer the canonical {@link RoutingSelection} of that layer's input — which
 * queries each expert routed in each routed window, and which earlier positions it attended.
 * For exact decoding this is also what serving computed for the text's last position.
 *
 * @param tokens how many positions were routed
 * @param layers one selection per layer
 */
public record RoutingTrace(ModelConfig config, int tokens, List<RoutingSelection> layers) {
    /** The routing of {@code ids} (one sequence, at most seq_len tokens), on the weights' device. */
    public static RoutingTrace of(MoaWeights w, long[] ids) {
        ModelConfig c = w.config();
        if (ids.length == 0 || ids.length > c.seqLen()) {
            throw new IllegalArgumentException("routing takes 1 to " + c.seqLen() + " tokens, got " + ids.length);
        }
        int n = ids.length;
        List<RoutingSelection> layers = new ArrayList<>();
        try (NDManager m = w.tokenEmb().getManager().newSubManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray h = FullForward.embed(w, m.create(ids, new Shape(1, n)));
            for (int l = 0; l < c.depth(); l++) {
                MoaWeights.Layer lw = w.layer(l);
                float[] sq = Ops.routingScores(c, h, lw.queryRouting()).toFloatArray();   // [1, n, G]
                float[] skv = Ops.routingScores(c, h, lw.kvRouting()).toFloatArray();
                layers.add(RoutingSelection.of(c, sq, skv, 0, n));
                h = FullForward.layer(w, m, l, h, false);
            }
        }
        return new RoutingTrace(c, n, List.copyOf(layers));
    }

    /**
     * The routing of {@code n} tokens from each layer's router logits, [layers, 2, n, experts]
     * flattened (queries then keys/values), as the step program's full forward computes them.
     */
    public static RoutingTrace ofScores(ModelConfig c, int n, float[] scores) {
        int g = c.numExperts();
        int per = n * g;
        List<RoutingSelection> layers = new ArrayList<>();
        for (int l = 0; l < c.depth(); l++) {
            float[] sq = java.util.Arrays.copyOfRange(scores, (2 * l) * per, (2 * l + 1) * per);
            float[] skv = java.util.Arrays.copyOfRange(scores, (2 * l + 1) * per, (2 * l + 2) * per);
            layers.add(RoutingSelection.of(c, sq, skv, 0, n));
        }
        return new RoutingTrace(c, n, List.copyOf(layers));
    }

    /** Routed windows (window 0 has none). */
    public int routedWindows() {
        return layers.isEmpty() ? 0 : layers.get(0).routedWindows();
    }

    /**
     * Query positions from routed window {@code first} on (1-based window index), as
     * [windows, layers, experts, k_q] flattened; −1 where fewer.
     */
    public int[] queries(int first) {
        return gather(first, true);
    }

    /** Attended key/value positions from routed window {@code first} on, [windows, layers, experts, k_kv]; −1 where fewer. */
    public int[] keys(int first) {
        return gather(first, false);
    }

    private int[] gather(int first, boolean queries) {
        int rows = Math.max(0, routedWindows() - (first - 1));
        if (layers.isEmpty() || rows == 0) {
            return new int[0];
        }
        RoutingSelection s0 = layers.get(0);
        int g = s0.experts();
        int k = queries ? s0.kq() : s0.kkv();
        int[] out = new int[rows * layers.size() * g * k];
        for (int r = 0; r < rows; r++) {
            for (int l = 0; l < layers.size(); l++) {
                int[] src = queries ? layers.get(l).queries() : layers.get(l).keys();
                System.arraycopy(src, (first - 1 + r) * g * k, out, ((r * layers.size() + l) * g) * k, g * k);
            }
        }
        return out;
    }
}

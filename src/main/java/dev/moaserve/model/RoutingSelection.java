package dev.moaserve.model;

import java.util.Arrays;

/**
 * The canonical routing of one sequence at one layer: for each routed window i ≥ 1 and expert,
 * the top-k_q positions of window i by the query router, and the top-k_kv positions before
 * window i by the key/value router, each largest score first, ties to the lower position
 * ({@link TopK}). Absolute positions; −1 where fewer exist (a partial last window, or fewer than
 * k_kv positions before a window). The full forward routes by it and {@link RoutingTrace} reports it.
 *
 * @param queries [windows − 1, experts, k_q]
 * @param keys    [windows − 1, experts, k_kv]
 */
public record RoutingSelection(int routedWindows, int experts, int kq, int kkv, int[] queries, int[] keys) {
    /**
     * @param sq  query-router scores, [rows, n, G] flattened; this sequence's start at {@code base · G}
     * @param skv key/value-router scores, same layout
     */
    public static RoutingSelection of(ModelConfig c, float[] sq, float[] skv, int base, int n) {
        int g = c.numExperts();
        int win = c.routedWindowSize();
        int windows = (n + win - 1) / win;
        int nq = Math.max(0, windows - 1);
        int kq = Math.min(c.numRoutedQueries(), win);
        int kkv = Math.min(c.numRoutedKeyValues(), nq * win);
        int[] queries = new int[nq * g * kq];
        int[] keys = new int[nq * g * kkv];
        Arrays.fill(queries, -1);
        Arrays.fill(keys, -1);
        for (int e = 0; e < g; e++) {
            TopK past = new TopK(Math.max(kkv, 1));
            for (int i = 1; i < windows; i++) {
                int start = i * win;
                for (int p = start - win; p < start; p++) {
                    past.offer(p, skv[(base + p) * g + e]);
                }
                int cell = (i - 1) * g + e;
                TopK sel = TopK.of(kq, sq, base * g + e, g, start, Math.min(start + win, n));
                for (int j = 0; j < sel.size(); j++) {
                    queries[cell * kq + j] = sel.position(j);
                }
                for (int j = 0; j < Math.min(kkv, past.size()); j++) {
                    keys[cell * kkv + j] = past.position(j);
                }
            }
        }
        return new RoutingSelection(nq, g, kq, kkv, queries, keys);
    }
}

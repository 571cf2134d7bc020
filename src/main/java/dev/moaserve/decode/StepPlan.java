package dev.moaserve.decode;

import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * What one step does, decided on the host from the sequences' lengths alone, and packed into the
 * two arrays (float, int64) and the integers the decode step program takes (see its {@code step}):
 * each array is cut into the named sections of {@link StepSlots.Floats} and {@link StepSlots.Ids},
 * whose bounds travel in the integers.
 *
 * <p>A step where no earlier row can change — every slot in window 0, or holding ≤ k_q tokens, or
 * k_q ≥ w — is a <em>cached</em> step: each layer computes the new rows only, a plan known here.
 * {@link IncrementalDecoder.Recompute#ALL} also fixes the plan (every filled row), and so do
 * {@link DecodeMode#FROZEN} sequences (their new rows only, always). Otherwise the program plans
 * each layer's rows itself from the routing it computes (the lazy plan).
 */
final class StepPlan {
    final int slots;
    final int fresh;            // new tokens in the step
    final boolean cached;
    final boolean anyRouted;    // some slot is past window 0
    final List<Integer> commits = new ArrayList<>();
    final float[] floats;       // sections StepSlots.Floats
    final long[] ints;          // sections StepSlots.Ids
    final long[] meta;          // StepSlots.Plan fields, then both arrays' section bounds

    /**
     * The plan of a step over the pool's active slots: each slot's window start, fill and decode
     * mode read from the state that holds it.
     */
    static StepPlan over(StatePool pool, ModelConfig c, boolean all, long[][] add, int[] last) {
        int slots = add.length;
        int[] start = new int[slots];
        int[] fill = new int[slots];
        boolean[] frozen = new boolean[slots];
        for (int b = 0; b < slots; b++) {
            DecodeState st = pool.holder(b);
            start[b] = st.windowStart();
            fill[b] = st.fill;
            frozen[b] = st.mode == DecodeMode.FROZEN;
        }
        return new StepPlan(c.routedWindowSize(), pool.ring, c.numRoutedQueries(), all, add, start, fill, frozen, last);
    }

    /**
     * @param add    per slot, the tokens appended (null: none)
     * @param start  per slot, the absolute position of window offset 0
     * @param fill   per slot, tokens already in the current window
     * @param frozen per slot, decoded in {@link DecodeMode#FROZEN}
     * @param last   per sequence in the caller's order, its slot
     */
    StepPlan(int win, int ring, int kq, boolean all, long[][] add, int[] start, int[] fill, boolean[] frozen, int[] last) {
        slots = add.length;
        int[] count = new int[slots];
        int tokens = 0;
        boolean routed = false;
        boolean cachedStep = true;
        boolean anyFrozen = false;
        boolean exactStepping = false;   // an exactly decoded sequence takes tokens
        for (int b = 0; b < slots; b++) {
            int added = add[b] == null ? 0 : add[b].length;
            tokens += added;
            anyFrozen |= frozen[b];
            exactStepping |= added > 0 && !frozen[b];
            count[b] = fill[b] + added;
            routed |= start[b] >= win;
            cachedStep &= start[b] < win || count[b] <= kq || kq >= win;
            if (count[b] == win && added > 0) {
                commits.add(b);
            }
        }
        fresh = tokens;
        anyRouted = routed;
        cached = cachedStep;

        meta = new long[StepSlots.PLAN_INTEGERS];
        int bw = slots * win;
        int vf = bounds(StepSlots.FLOAT_BOUNDS, bw, bw, bw, slots, slots);
        floats = new float[vf];
        int valid = at(StepSlots.Floats.VALID);
        int qpos = at(StepSlots.Floats.QUERY_POSITION);
        int newRows = at(StepSlots.Floats.NEW_ROWS);
        for (int b = 0; b < slots; b++) {
            int firstNew = fill[b];
            floats[at(StepSlots.Floats.ROUTED_FLAG) + b] = start[b] >= win ? 1f : 0f;
            floats[at(StepSlots.Floats.FROZEN) + b] = frozen[b] ? 1f : 0f;
            for (int t = 0; t < win; t++) {
                floats[valid + b * win + t] = t < count[b] ? 1f : 0f;
                floats[qpos + b * win + t] = start[b] + t;
                floats[newRows + b * win + t] = t >= firstNew && t < count[b] ? 1f : 0f;
            }
        }

        // fixed plan: per slot the rows from `from` to the window's end, T the most in any slot
        boolean fixed = cached || all || !exactStepping;
        int t = 0;
        int planned = 0;
        if (fixed) {
            for (int b = 0; b < slots; b++) {
                int rows = add[b] == null ? 0 : (all && !frozen[b] ? count[b] : add[b].length);
                t = Math.max(t, rows);
                planned += rows;
            }
        }
        int s = last.length;
        ints = new long[bounds(StepSlots.ID_BOUNDS, fresh, fresh, fresh, fresh, commits.size(), s, planned, planned)];
        int k = 0;
        for (int b = 0; b < slots; b++) {
            if (add[b] == null) {
                continue;
            }
            for (int i = 0; i < add[b].length; i++) {
                int at = fill[b] + i;
                long pos = start[b] + at;
                ints[at(StepSlots.Ids.TOKENS) + k] = add[b][i];
                ints[at(StepSlots.Ids.WINDOW_ROWS) + k] = (long) b * win + at;
                ints[at(StepSlots.Ids.POSITIONS) + k] = pos;
                ints[at(StepSlots.Ids.RING_ROWS) + k] = (long) b * ring + pos % ring;
                k++;
            }
        }
        int o = at(StepSlots.Ids.COMMITS);
        for (int b : commits) {
            ints[o++] = b;
        }
        o = at(StepSlots.Ids.LAST_ROWS);
        for (int j = 0; j < s; j++) {
            ints[o++] = (long) last[j] * win + count[last[j]] - 1;
        }
        if (fixed) {
            int p = 0;
            int rowsAt = at(StepSlots.Ids.FIXED_ROWS);
            int placesAt = at(StepSlots.Ids.FIXED_PLACES);
            for (int b = 0; b < slots; b++) {
                if (add[b] == null) {
                    continue;
                }
                int from = all && !frozen[b] ? 0 : fill[b];
                for (int r = from; r < count[b]; r++) {
                    ints[rowsAt + p] = (long) b * win + r;
                    ints[placesAt + p] = (long) b * t + (r - from);
                    p++;
                }
            }
        }
        // dense: every slot has exactly T planned rows, so the attention layout is a view of them;
        // lastIsPlan: the plan is one row per sequence, its last, in the caller's order
        boolean dense = fixed && planned == slots * t;
        boolean lastIsPlan = fixed && t == 1 && planned == s;
        for (int j = 1; j < s && lastIsPlan; j++) {
            lastIsPlan = last[j] > last[j - 1];
        }
        set(StepSlots.Plan.BATCH, slots);
        set(StepSlots.Plan.NEW_TOKENS, fresh);
        set(StepSlots.Plan.COMMITS, commits.size());
        set(StepSlots.Plan.SEQUENCES, s);
        set(StepSlots.Plan.CACHED, cached ? 1 : 0);
        set(StepSlots.Plan.ANY_ROUTED, anyRouted ? 1 : 0);
        set(StepSlots.Plan.FIXED_ROWS, fixed ? t : 0);
        set(StepSlots.Plan.ANY_FROZEN, anyFrozen ? 1 : 0);
        set(StepSlots.Plan.DENSE, dense ? 1 : 0);
        set(StepSlots.Plan.LAST_IS_PLAN, lastIsPlan ? 1 : 0);
        set(StepSlots.Plan.FROZEN_ONLY, anyFrozen && !exactStepping ? 1 : 0);
    }

    /** Writes the section bounds of an array of sections {@code lengths} at {@code meta[from..]}; its total length. */
    private int bounds(int from, int... lengths) {
        long at = 0;
        meta[from] = 0;
        for (int i = 0; i < lengths.length; i++) {
            at += lengths[i];
            meta[from + i + 1] = at;
        }
        return Math.toIntExact(at);
    }

    /** Where a section of the float array starts. */
    int at(StepSlots.Floats section) {
        return (int) meta[StepSlots.FLOAT_BOUNDS + section.ordinal()];
    }

    /** Where a section of the int64 array starts. */
    int at(StepSlots.Ids section) {
        return (int) meta[StepSlots.ID_BOUNDS + section.ordinal()];
    }

    private void set(StepSlots.Plan field, long value) {
        meta[field.ordinal()] = value;
    }

    long get(StepSlots.Plan field) {
        return meta[field.ordinal()];
    }

    /** The program plans rows itself (and reads a row count back per layer). */
    boolean planOnDevice() {
        return get(StepSlots.Plan.FIXED_ROWS) == 0;
    }
}

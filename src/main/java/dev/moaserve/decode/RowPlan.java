package dev.moaserve.decode;

import java.util.Arrays;

/**
 * Which window rows a layer computes in one step, decided on the host from a [B, w] mask.
 * Rows are packed (no padding) for projections and feed-forward. Attention, whose keys are per
 * slot, runs on chunks of {@code tq} rows: chunk 0 of every slot reads that slot's keys where
 * they lie (a view of the pool's leading B slots); a slot with more than tq rows puts the rest
 * in overflow chunks, whose keys are gathered ({@code O} slots). tq is chosen per layer to keep
 * padding and gathering small together, so one slot with a full window does not pad every
 * other slot to w rows. Padding rows repeat a real row and are discarded.
 *
 * <p>{@link #indices} is uploaded as one int64 array: rows | slot | ring | pos | unblock |
 * block | blockRow | overflow | last, with sizes n, n, n, n, n, (B+O)·tq, (B+O)·tq, O, S.
 */
final class RowPlan {
    /** Cost of gathering one slot's keys and values, in padded attention rows (measured on CPU, embedded model: ~30-45). */
    private static final int GATHER_COST = 32;

    final int n;
    final int tq;
    final int slots;
    final int overflow;
    final int lastCount;
    final long[] indices;
    /** One row per slot, in slot order: block order is packed order (no gathers needed). */
    final boolean identity;

    /**
     * @param mask   [B·w] rows to compute, row-major by slot
     * @param start  per slot, the absolute position of window offset 0
     * @param lastT  per output sequence j, {slot, window offset of its last new token}
     */
    RowPlan(boolean[] mask, int slots, int win, int ring, int[] start, int[][] lastT) {
        this.slots = slots;
        int count = 0;
        int[] perSlot = new int[slots];
        for (int b = 0; b < slots; b++) {
            for (int t = 0; t < win; t++) {
                if (mask[b * win + t]) {
                    perSlot[b]++;
                }
            }
            count += perSlot[b];
        }
        this.n = count;
        this.tq = chunkRows(perSlot);
        int extra = 0;
        for (int r : perSlot) {
            extra += Math.max(0, (r + tq - 1) / tq - 1);
        }
        this.overflow = extra;
        boolean one = true;
        for (int r : perSlot) {
            one &= r == 1;
        }
        this.identity = one;
        this.lastCount = lastT.length;
        int blocks = (slots + overflow) * tq;
        indices = new long[5 * n + 2 * blocks + overflow + lastCount];
        int[] packedAt = new int[slots * win];
        int blockAt = 5 * n;
        int blockRowAt = blockAt + blocks;
        int overflowAt = blockRowAt + blocks;
        Arrays.fill(indices, blockAt, blockRowAt, -1);
        int p = 0;
        int o = 0;
        for (int b = 0; b < slots; b++) {
            int i = 0;
            for (int t = 0; t < win; t++) {
                if (!mask[b * win + t]) {
                    continue;
                }
                long pos = start[b] + t;
                int chunk = i / tq;
                long blockIndex;
                if (chunk == 0) {
                    blockIndex = (long) b * tq + i;
                } else {
                    if (i % tq == 0) {
                        indices[overflowAt + o] = b;
                        o++;
                    }
                    blockIndex = (long) (slots + o - 1) * tq + i % tq;
                }
                indices[p] = (long) b * win + t;              // rows: flat window index
                indices[n + p] = b;                          // slot
                indices[2 * n + p] = pos % ring;             // ring entry
                indices[3 * n + p] = pos;                    // absolute position
                indices[4 * n + p] = blockIndex;             // unblock: block row of packed row p
                indices[blockAt + (int) blockIndex] = p;
                packedAt[b * win + t] = p;
                p++;
                i++;
            }
        }
        // padding rows repeat the previous real row of their chunk (or packed row 0 for an empty slot)
        for (int k = 0; k < blocks; k++) {
            if (indices[blockAt + k] < 0) {
                indices[blockAt + k] = k % tq == 0 ? 0 : indices[blockAt + k - 1];
            }
            indices[blockRowAt + k] = indices[(int) indices[blockAt + k]];
        }
        int lastAt = overflowAt + overflow;
        for (int j = 0; j < lastCount; j++) {
            indices[lastAt + j] = packedAt[lastT[j][0] * win + lastT[j][1]];
        }
    }

    /** Rows per attention chunk minimising padded rows plus overflow gathers. */
    private static int chunkRows(int[] perSlot) {
        int widest = 1;
        for (int r : perSlot) {
            widest = Math.max(widest, r);
        }
        int best = widest;
        long bestCost = Long.MAX_VALUE;
        for (int tq = 1; tq <= widest; tq++) {
            long chunks = 0;
            for (int r : perSlot) {
                chunks += Math.max(0, (r + tq - 1) / tq - 1);
            }
            long cost = (perSlot.length + chunks) * tq + GATHER_COST * chunks;
            if (cost < bestCost) {
                bestCost = cost;
                best = tq;
            }
        }
        return best;
    }

    /** Split points of {@link #indices} for {@code NDArray.split}. */
    long[] splitPoints() {
        long a = n;
        long blocks = (long) (slots + overflow) * tq;
        return new long[] {a, 2 * a, 3 * a, 4 * a, 5 * a, 5 * a + blocks, 5 * a + 2 * blocks, 5 * a + 2 * blocks + overflow};
    }
}

package dev.moaserve.decode;

/**
 * Which window rows a layer computes in one step, decided on the host from a [B, w] mask.
 * Rows are packed (no padding) for projections and feed-forward; attention, whose keys are
 * per slot, runs on blocks of {@code tq} rows per slot, so the plan also maps packed rows to
 * block rows and back. Padding rows of a block repeat a real row and are discarded.
 *
 * <p>{@link #indices} is uploaded as one int64 array: rows | slot | ring | pos | unblock |
 * block | blockRow | last, with sizes n, n, n, n, n, B·tq, B·tq, S.
 */
final class RowPlan {
    final int n;
    final int tq;
    final int slots;
    final int lastCount;
    final long[] indices;

    /**
     * @param mask   [B·w] rows to compute, row-major by slot
     * @param start  per slot, the absolute position of window offset 0
     * @param lastT  per output sequence j, {slot, window offset of its last new token}
     */
    RowPlan(boolean[] mask, int slots, int win, int ring, int[] start, int[][] lastT) {
        this.slots = slots;
        int count = 0;
        int widest = 1;
        int[] perSlot = new int[slots];
        for (int b = 0; b < slots; b++) {
            for (int t = 0; t < win; t++) {
                if (mask[b * win + t]) {
                    perSlot[b]++;
                }
            }
            count += perSlot[b];
            widest = Math.max(widest, perSlot[b]);
        }
        this.n = count;
        this.tq = widest;
        this.lastCount = lastT.length;
        indices = new long[5 * n + 2 * slots * tq + lastCount];
        int[] packedAt = new int[slots * win];
        int[] firstOf = new int[slots];
        int p = 0;
        for (int b = 0; b < slots; b++) {
            firstOf[b] = p;
            int i = 0;
            for (int t = 0; t < win; t++) {
                if (!mask[b * win + t]) {
                    continue;
                }
                long pos = start[b] + t;
                indices[p] = (long) b * win + t;              // rows: flat window index
                indices[n + p] = b;                          // slot
                indices[2 * n + p] = pos % ring;             // ring entry
                indices[3 * n + p] = pos;                    // absolute position
                indices[4 * n + p] = (long) b * tq + i;      // unblock: block row of packed row p
                packedAt[b * win + t] = p;
                p++;
                i++;
            }
        }
        int blockAt = 5 * n;
        int blockRowAt = blockAt + slots * tq;
        for (int b = 0; b < slots; b++) {
            for (int i = 0; i < tq; i++) {
                int src = i < perSlot[b] ? firstOf[b] + i : perSlot[b] > 0 ? firstOf[b] + perSlot[b] - 1 : 0;
                indices[blockAt + b * tq + i] = src;
                indices[blockRowAt + b * tq + i] = indices[src];
            }
        }
        int lastAt = blockRowAt + slots * tq;
        for (int j = 0; j < lastCount; j++) {
            indices[lastAt + j] = packedAt[lastT[j][0] * win + lastT[j][1]];
        }
    }

    /** Split points of {@link #indices} for {@code NDArray.split}. */
    long[] splitPoints() {
        long a = n;
        return new long[] {a, 2 * a, 3 * a, 4 * a, 5 * a, 5 * a + (long) slots * tq, 5 * a + 2L * slots * tq};
    }
}

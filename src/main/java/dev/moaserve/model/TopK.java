package dev.moaserve.model;

/**
 * The canonical router rule on the host: keep the k positions with the largest routing logit,
 * ties to the lower position. Positions must be offered in increasing order, which makes the
 * running merge exact: {@code topk(S ∪ new) = topk(topk(S) ∪ new)} (a later position never wins
 * a tie), so the key/value router costs O(w) per completed window instead of O(context).
 */
public final class TopK {
    private final int k;
    private final int[] positions;
    private final float[] scores;
    private int size;

    public TopK(int k) {
        this.k = k;
        this.positions = new int[k];
        this.scores = new float[k];
    }

    private TopK(TopK other) {
        this.k = other.k;
        this.positions = other.positions.clone();
        this.scores = other.scores.clone();
        this.size = other.size;
    }

    public TopK copy() {
        return new TopK(this);
    }

    /** Offers a position later than every position offered before. */
    public void offer(int position, float score) {
        if (size == k && !(score > scores[size - 1])) {
            return;
        }
        int at = size == k ? size - 1 : size;
        // entries with a score >= this one stay ahead: they are earlier, so they win ties
        while (at > 0 && scores[at - 1] < score) {
            positions[at] = positions[at - 1];
            scores[at] = scores[at - 1];
            at--;
        }
        positions[at] = position;
        scores[at] = score;
        if (size < k) {
            size++;
        }
    }

    public int size() {
        return size;
    }

    /** Selected position of rank i (0 = best). */
    public int position(int i) {
        return positions[i];
    }

    /** Top k of {@code scores[base + p·stride]} for p in [from, to). */
    public static TopK of(int k, float[] scores, int base, int stride, int from, int to) {
        TopK t = new TopK(k);
        for (int p = from; p < to; p++) {
            t.offer(p, scores[base + p * stride]);
        }
        return t;
    }
}

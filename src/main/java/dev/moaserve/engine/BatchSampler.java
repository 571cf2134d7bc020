package dev.moaserve.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.List;

/**
 * Picks the next token of every sequence of a step in one pass over the logits [S, V] on the
 * tensor engine: penalties, the structured-output mask, greedy or temperature → top-k → top-p → min-p → a draw. Each
 * request's randomness is its own uniform (drawn from its seeded generator on the host and
 * passed in), so a seeded request gives the same tokens alone or in any batch. Candidates are
 * found by partial selection (top-k over at most {@link #MAX_CANDIDATES} tokens), never a full
 * sort of the vocabulary. One array goes in (per-row parameters; plus the seen tokens when a
 * penalty is on) and one comes back (tokens, their log-probabilities and the requested top
 * alternatives).
 */
public final class BatchSampler {
    /** Sampling considers at most this many most-probable tokens (top-p and min-p work inside them). */
    public static final int MAX_CANDIDATES = 1024;

    private BatchSampler() {}

    /** How many candidates a draw over a vocabulary of {@code v} considers. */
    static int candidates(int v) {
        return Math.min(v, MAX_CANDIDATES);
    }

    /**
     * @param logits [S, V] after each row's last token
     * @param rows   the S requests' samplers, in row order
     * @param transfers counts host↔device copies (incremented here)
     */
    public static Sampler.Choice[] sample(NDArray logits, List<Sampler> rows, long[] transfers) {
        NDManager m = logits.getManager();
        int s = rows.size();
        int v = (int) logits.getShape().get(1);
        boolean anySampled = false;
        boolean anyPenalty = false;
        long[][] masks = new long[rows.size()][];
        boolean anyConstrained = false;
        int maxTopK = 0;
        boolean unbounded = false;
        int logprobs = 0;
        for (int i = 0; i < rows.size(); i++) {
            Sampler r = rows.get(i);
            masks[i] = r.mask(); // once per row and step: it is a cache lookup, the loop below runs V times
            anySampled |= !r.greedy();
            anyPenalty |= r.adjusted();
            anyConstrained |= masks[i] != null;
            logprobs = Math.max(logprobs, Math.min(r.params().logprobs(), v));
            if (!r.greedy()) {
                if (r.params().topK() > 0) {
                    maxTopK = Math.max(maxTopK, r.params().topK());
                } else {
                    unbounded = true;
                }
            }
        }
        NDArray x = anyPenalty ? penalize(m, logits, rows, transfers) : logits;
        if (anyConstrained) {
            x = constrain(m, x, masks, transfers);
        }
        NDArray token = x.argMax(1);                                                     // greedy [S]
        if (anySampled) {
            int k = unbounded ? candidates(v) : Math.min(candidates(v), maxTopK);
            float[] p = new float[5 * s];     // temperature, top-k, top-p, min-p, uniform
            float[] greedy = new float[s];
            for (int i = 0; i < s; i++) {
                Sampler r = rows.get(i);
                SamplingParams q = r.params();
                boolean g = r.greedy();
                greedy[i] = g ? 1f : 0f;
                p[i] = g ? 1f : (float) q.temperature();
                p[s + i] = q.topK() > 0 ? q.topK() : k;
                p[2 * s + i] = (float) q.topP();
                p[3 * s + i] = (float) q.minP();
                p[4 * s + i] = g ? 0f : (float) r.nextUniform();
            }
            transfers[0]++;
            float[] both = new float[6 * s];
            System.arraycopy(p, 0, both, 0, 5 * s);
            System.arraycopy(greedy, 0, both, 5 * s, s);
            NDArray params = m.create(both, new Shape(6, s)).transpose();                  // [S, 6]
            NDList cols = params.split(6, 1);
            NDArray probs = x.div(cols.get(0)).softmax(1);
            NDList top = probs.topK(k, 1, true, true);                                  // [S, k] each
            NDArray vals = top.get(0);
            NDArray rank = m.arange(0, k, 1, DataType.FLOAT32).reshape(1, k);
            NDArray cum = vals.cumSum(1);
            NDArray keep = rank.lt(cols.get(1))
                    .logicalAnd(cum.sub(vals).lt(cols.get(2)))
                    .logicalAnd(vals.gte(vals.get(new NDIndex(":, 0:1")).mul(cols.get(3))));
            keep = keep.logicalOr(rank.eq(0f));                                         // the best token always stays
            NDArray keptCum = vals.mul(keep.toType(DataType.FLOAT32, false)).cumSum(1);
            NDArray target = keptCum.get(new NDIndex(":, -1:")).mul(cols.get(4));       // u · total, [S, 1]
            NDArray at = keptCum.lt(target).sum(new int[] {1}, true)
                    .minimum(keep.sum(new int[] {1}, true).sub(1));                       // [S, 1] int64
            NDArray drawn = top.get(1).gather(at, 1).squeeze(1);
            token = NDArrays.where(cols.get(5).squeeze(1).gt(0.5f), token, drawn);
        }
        NDArray logp = logits.logSoftmax(1);
        NDList parts = new NDList(token.toType(DataType.FLOAT32, false).expandDims(1),
                logp.gather(token.expandDims(1), 1));
        if (logprobs > 0) {
            NDList alt = logp.topK(logprobs, 1, true, true);
            parts.add(alt.get(1).toType(DataType.FLOAT32, false));
            parts.add(alt.get(0));
        }
        transfers[0]++;
        float[] out = NDArrays.concat(parts, 1).toFloatArray();                        // [S, 2 + 2L]
        int width = 2 + 2 * logprobs;
        Sampler.Choice[] choices = new Sampler.Choice[s];
        for (int i = 0; i < s; i++) {
            Sampler r = rows.get(i);
            int t = (int) out[i * width];
            r.take(t);
            int n = Math.min(r.params().logprobs(), v);
            int[] ids = new int[n];
            double[] lps = new double[n];
            for (int j = 0; j < n; j++) {
                ids[j] = (int) out[i * width + 2 + j];
                lps[j] = out[i * width + 2 + logprobs + j];
            }
            choices[i] = new Sampler.Choice(t, out[i * width + 1], ids, lps);
        }
        return choices;
    }

    /**
     * Structured output: −∞ on every token a constrained row's automaton does not allow next (one
     * upload of an [S, V] additive mask; unconstrained rows get zeros, so they sample exactly as
     * without it). The reported log-probabilities stay those of the model.
     */
    private static NDArray constrain(NDManager m, NDArray x, long[][] masks, long[] transfers) {
        int s = masks.length;
        int v = (int) x.getShape().get(1);
        float[] mask = new float[s * v];
        for (int i = 0; i < s; i++) {
            if (masks[i] == null) {
                continue;
            }
            for (int t = 0; t < v; t++) {
                if (!Sampler.allows(masks[i], t)) {
                    mask[i * v + t] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        transfers[0]++;
        return x.add(m.create(mask, new Shape(s, v)));
    }

    /**
     * Applies each row's penalties to the logits of the tokens it has seen, and its logit bias
     * (one upload): at each (row, token) touched, l' = (l > 0 ? l·a : l·b) − c + bias.
     */
    private static NDArray penalize(NDManager m, NDArray logits, List<Sampler> rows, long[] transfers) {
        int v = (int) logits.getShape().get(1);
        List<long[]> at = new ArrayList<>();
        List<float[]> by = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            Sampler r = rows.get(i);
            if (!r.adjusted()) {
                continue;
            }
            SamplingParams q = r.params();
            for (int t = 0; t < v; t++) {
                int n = r.count(t);
                float bias = r.bias(t);
                if (n > 0) {
                    at.add(new long[] {i, t});
                    by.add(new float[] {(float) (1 / q.repetitionPenalty()), (float) q.repetitionPenalty(),
                            (float) (q.presencePenalty() + q.frequencyPenalty() * n) - bias});
                } else if (bias != 0f) {
                    at.add(new long[] {i, t});
                    by.add(new float[] {1f, 1f, -bias});
                }
            }
        }
        if (at.isEmpty()) {
            return logits;
        }
        int n = at.size();
        long[] idx = new long[2 * n];
        float[] f = new float[3 * n];
        for (int j = 0; j < n; j++) {
            idx[j] = at.get(j)[0];
            idx[n + j] = at.get(j)[1];
            f[j] = by.get(j)[0];
            f[n + j] = by.get(j)[1];
            f[2 * n + j] = by.get(j)[2];
        }
        transfers[0] += 2;
        NDList ij = m.create(idx).split(2);
        NDList abc = m.create(f).split(3);
        NDIndex seen = new NDIndex("{}, {}", ij.get(0), ij.get(1));
        NDArray old = logits.get(seen);                                                  // [n]
        NDArray scaled = NDArrays.where(old.gt(0f), old.mul(abc.get(0)), old.mul(abc.get(1))).sub(abc.get(2));
        NDArray out = logits.duplicate();
        out.set(seen, scaled);
        return out;
    }
}

package dev.moaserve.train;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import dev.moaserve.engine.Embedder;
import dev.moaserve.model.EncoderWeights;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;

/**
 * What a trained encoder is measured by: its training objective on held-out text (masked-character
 * loss) and what its embeddings are for (retrieving the continuation of a held-out passage).
 */
public final class EncoderEvaluation {
    private EncoderEvaluation() {}

    /** Mean masked-character loss (nats) over {@code tokens} selected positions. */
    public record MaskedLoss(double loss, long tokens) {}

    /**
     * Masked-character loss over the whole of {@code text}, cut into consecutive windows of the
     * model's context (a shorter tail is dropped); masks are drawn from {@code seed}, so the
     * figure is reproducible. Every selected position is replaced by the mask id.
     */
    public static MaskedLoss maskedLoss(EncoderWeights w, int[] text, int characters, long seed) {
        int seq = w.config().seqLen();
        int windows = text.length / seq;
        Random rnd = new Random(seed);
        int maskId = w.config().maskTokenId();
        double sum = 0;
        long count = 0;
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager m = w.manager().newSubManager()) {
            for (int from = 0; from < windows; from += 16) {
                int[] starts = new int[Math.min(16, windows - from)];
                for (int i = 0; i < starts.length; i++) {
                    starts[i] = (from + i) * seq;
                }
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    MaskedCharacters.Batch b = MaskedCharacters.corrupt(text, starts, seq, maskId, characters, rnd, false);
                    sum += MaskedCharacters.loss(w, m, b, false).getFloat() * (double) b.targets().length;
                    count += b.targets().length;
                }
            }
        } finally {
            JniUtils.setGradMode(grad);
        }
        return new MaskedLoss(sum / count, count);
    }

    /** Retrieval of passages' second halves from their first halves, over all candidates. */
    public record Retrieval(int passages, int halfTokens, double top1, double recall10, double mrr) {}

    /**
     * Cuts {@code text} into consecutive passages of 2·{@code half} tokens; each first half is a
     * query, every second half a candidate, and the query's own second half the right answer.
     * Candidates are ranked by the cosine of the server's embeddings (mean-pooled, unit length:
     * {@link Embedder}), so this measures what {@code /v1/embeddings} returns.
     */
    public static Retrieval byEmbeddings(EncoderWeights w, int[] text, int half) {
        List<long[][]> halves = halves(text, half);
        float[][] queries = new float[halves.size()][];
        float[][] answers = new float[halves.size()][];
        try (Embedder embedder = Embedder.of(w, Embedder.Limits.single(8192))) {
            for (int from = 0; from < halves.size(); from += 64) {
                List<long[]> inputs = new ArrayList<>();
                int to = Math.min(halves.size(), from + 64);
                for (int i = from; i < to; i++) {
                    inputs.add(halves.get(i)[0]);
                    inputs.add(halves.get(i)[1]);
                }
                float[][] v = embedder.submit("retrieval", inputs).result().get();
                for (int i = from; i < to; i++) {
                    queries[i] = v[2 * (i - from)];
                    answers[i] = v[2 * (i - from) + 1];
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("embedding failed: " + e.getCause(), e.getCause());
        }
        return rank(queries, answers, half);
    }

    /**
     * The same retrieval with bag-of-characters vectors: each half's character counts, unit
     * length, compared by cosine (the baseline an embedding must beat).
     */
    public static Retrieval byCharacterCounts(int[] text, int half, int vocab) {
        List<long[][]> halves = halves(text, half);
        float[][] queries = new float[halves.size()][];
        float[][] answers = new float[halves.size()][];
        for (int i = 0; i < halves.size(); i++) {
            queries[i] = counts(halves.get(i)[0], vocab);
            answers[i] = counts(halves.get(i)[1], vocab);
        }
        return rank(queries, answers, half);
    }

    private static List<long[][]> halves(int[] text, int half) {
        List<long[][]> out = new ArrayList<>();
        for (int start = 0; start + 2 * half <= text.length; start += 2 * half) {
            long[] q = new long[half];
            long[] a = new long[half];
            for (int t = 0; t < half; t++) {
                q[t] = text[start + t];
                a[t] = text[start + half + t];
            }
            out.add(new long[][] {q, a});
        }
        return out;
    }

    private static float[] counts(long[] ids, int vocab) {
        float[] v = new float[vocab];
        for (long id : ids) {
            v[(int) id] += 1f;
        }
        double norm = 0;
        for (float x : v) {
            norm += x * x;
        }
        float inv = (float) (1 / Math.sqrt(norm));
        for (int i = 0; i < v.length; i++) {
            v[i] *= inv;
        }
        return v;
    }

    /** Rank of each query's own answer among all answers by dot product (unit vectors: cosine). */
    static Retrieval rank(float[][] queries, float[][] answers, int half) {
        int n = queries.length;
        int top1 = 0, top10 = 0;
        double mrr = 0;
        for (int i = 0; i < n; i++) {
            double own = dot(queries[i], answers[i]);
            int better = 0;
            for (int j = 0; j < n; j++) {
                if (j != i && dot(queries[i], answers[j]) >= own) {
                    better++; // ties count against the query: no credit for a degenerate embedding
                }
            }
            top1 += better == 0 ? 1 : 0;
            top10 += better < 10 ? 1 : 0;
            mrr += 1.0 / (better + 1);
        }
        return new Retrieval(n, half, (double) top1 / n, (double) top10 / n, mrr / n);
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}

package dev.moaserve.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.model.EncoderForward;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.Ops;

import java.util.Arrays;
import java.util.Random;

/**
 * Masked-character modelling, BERT's objective on characters: some positions of each sequence are
 * selected and corrupted, and the encoder predicts the original characters there through the
 * token embedding (tied output head: logits = final hidden · token_emb<sup>T</sup> / √D, so the
 * shipped model needs no parameter beyond the encoder's; the scale keeps the first logits near
 * unit size, since both factors have norm ≈ √D at initialisation).
 */
public final class MaskedCharacters {
    /** Share of positions selected, as BERT. */
    public static final double RATE = 0.15;

    private MaskedCharacters() {}

    /**
     * A corrupted batch: {@code inputs} [B·N] ids, and for each selected position its row in the
     * flattened [B·N] batch and its original id.
     */
    public record Batch(int batch, int seqLen, long[] inputs, long[] rows, long[] targets) {}

    /**
     * Corrupts {@code batch} windows of {@code data} starting at {@code starts}: each position is
     * selected with probability {@link #RATE} (at least one per row). With {@code training}, a
     * selected position becomes the mask id 80 % of the time, a random character 10 %, itself
     * 10 % (BERT's mix, so the model also reads unmasked characters critically); otherwise
     * (evaluation) always the mask id.
     *
     * @param characters ids of real characters, [0, characters); the mask id lies outside them
     */
    static Batch corrupt(int[] data, int[] starts, int seqLen, int maskId, int characters, Random rnd, boolean training) {
        int b = starts.length;
        long[] inputs = new long[b * seqLen];
        long[] rows = new long[b * seqLen];
        long[] targets = new long[b * seqLen];
        int selected = 0;
        for (int r = 0; r < b; r++) {
            int first = selected;
            for (int t = 0; t < seqLen; t++) {
                int at = r * seqLen + t;
                int id = data[starts[r] + t];
                inputs[at] = id;
                boolean pick = rnd.nextDouble() < RATE || (t == seqLen - 1 && selected == first);
                if (!pick) {
                    continue;
                }
                rows[selected] = at;
                targets[selected++] = id;
                double u = training ? rnd.nextDouble() : 0;
                inputs[at] = u < 0.8 ? maskId : u < 0.9 ? rnd.nextInt(characters) : id;
            }
        }
        return new Batch(b, seqLen, inputs, Arrays.copyOf(rows, selected), Arrays.copyOf(targets, selected));
    }

    /** Random training windows of {@code data}. */
    static int[] randomStarts(int[] data, int batch, int seqLen, Random rnd) {
        int[] starts = new int[batch];
        for (int i = 0; i < batch; i++) {
            starts[i] = rnd.nextInt(data.length - seqLen + 1);
        }
        return starts;
    }

    /** Mean cross-entropy (nats) of the original characters at the selected positions: a scalar. */
    static NDArray loss(EncoderWeights w, NDManager m, Batch batch, boolean train) {
        int[] lengths = new int[batch.batch()];
        Arrays.fill(lengths, batch.seqLen());
        NDArray ids = m.create(batch.inputs(), new Shape(batch.batch(), batch.seqLen()));
        return loss(w, m, EncoderForward.forward(w, m, ids, lengths, null, train), batch);
    }

    /** The same loss from the encoder's output on the batch's inputs, {@code out} [B, N, D]. */
    static NDArray loss(EncoderWeights w, NDManager m, NDArray out, Batch batch) {
        NDArray picked = out.reshape(-1, w.config().dim()).get(m.create(batch.rows())); // [S, D]
        float scale = (float) (1 / Math.sqrt(w.config().dim()));
        NDArray logp = Ops.times(picked.matMul(w.tokenEmb().transpose()), scale).logSoftmax(1); // [S, V]
        NDArray target = m.create(batch.targets()).oneHot(w.config().shape().numTokens());
        return Ops.times(logp.mul(target).sum().neg(), 1f / batch.targets().length);
    }
}

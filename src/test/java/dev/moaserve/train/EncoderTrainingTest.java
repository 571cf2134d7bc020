package dev.moaserve.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.moaserve.model.Djl;
import dev.moaserve.model.EncoderConfig;
import dev.moaserve.model.EncoderForward;
import dev.moaserve.model.EncoderModel;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Masked-character training of a MoA encoder: gates, corruption, a short run, the retrieval ranking. */
class EncoderTrainingTest {

    /** An encoder with a local branch, 2 experts, k_q and k_kv below the length (routing selects). */
    private static EncoderConfig config(int characters, int seqLen) {
        ModelConfig m = ModelConfig.builder().vocab(characters + 1).dim(32).depth(2).seqLen(seqLen).localWindow(8)
                .routedWindow(seqLen).routedQueries(seqLen / 2).routedKeyValues(seqLen / 2).experts(2).dimHead(8)
                .heads(4).ffMult(2).build();
        return new EncoderConfig(m, true, characters);
    }

    @Test
    void trainingGatesKeepTheForwardAndTeachTheRouters() {
        Djl.engine();
        EncoderConfig c = config(20, 32);
        try (NDManager m = Djl.newManager(); EncoderWeights w = Init.randomEncoder(c, Djl.newManager(), 3)) {
            long[] ids = new Random(5).longs(2 * 32, 0, 20).toArray();
            int[] lengths = {32, 25};
            NDArray plain = EncoderForward.forward(w, m, m.create(ids, new Shape(2, 32)), lengths, null);
            NDArray router = w.params().get("layers.0.0.query_router.routing_token");
            NDArray kvRouter = w.params().get("layers.1.0.key_value_router.routing_token");
            for (NDArray p : w.params().values()) {
                p.setRequiresGradient(true);
            }
            try (NDScope scope = new NDScope(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                scope.suppressNotUsedWarning();
                w.derive();
                NDArray gated = EncoderForward.forward(w, m, m.create(ids, new Shape(2, 32)), lengths, null, true);
                float diff = 0;
                float[] a = plain.toFloatArray(), b = gated.toFloatArray();
                for (int i = 0; i < 25 * 32; i++) { // real positions of both rows' first 25 tokens
                    diff = Math.max(diff, Math.abs(a[i] - b[i]));
                }
                assertTrue(diff < 1e-5, "straight-through gates change no value: " + diff);
                gc.backward(gated.square().sum());
            }
            assertTrue(router.getGradient().abs().sum().getFloat() > 0, "the query router learns");
            assertTrue(kvRouter.getGradient().abs().sum().getFloat() > 0, "the key/value router learns");
        }
    }

    @Test
    void corruptionSelectsFifteenPercentWithBertsMix() {
        int[] data = new Random(1).ints(100_000, 0, 50).toArray();
        int[] starts = MaskedCharacters.randomStarts(data, 64, 256, new Random(2));
        MaskedCharacters.Batch train = MaskedCharacters.corrupt(data, starts, 256, 50, 50, new Random(3), true);
        double share = train.rows().length / (64.0 * 256);
        assertEquals(MaskedCharacters.RATE, share, 0.01);
        long masked = Arrays.stream(train.rows()).filter(r -> train.inputs()[(int) r] == 50).count();
        assertEquals(0.8, (double) masked / train.rows().length, 0.03);
        for (int i = 0; i < train.rows().length; i++) {
            int r = (int) train.rows()[i];
            assertEquals(data[starts[r / 256] + r % 256], train.targets()[i], "targets are the originals");
        }
        MaskedCharacters.Batch eval = MaskedCharacters.corrupt(data, starts, 256, 50, 50, new Random(3), false);
        assertTrue(Arrays.stream(eval.rows()).allMatch(r -> eval.inputs()[(int) r] == 50), "evaluation masks every selected one");
        // every row has a target, even a short one
        MaskedCharacters.Batch tiny = MaskedCharacters.corrupt(data, new int[] {0, 7, 9}, 2, 50, 50, new Random(4), false);
        for (int row = 0; row < 3; row++) {
            int r = row;
            assertTrue(Arrays.stream(tiny.rows()).anyMatch(x -> x / 2 == r), "row " + r);
        }
    }

    @Test
    void aShortRunLearnsAndWritesAnEncoderThatLoads(@TempDir Path tmp) throws Exception {
        TextData d = TrainResumeTest.words(8_000);
        int characters = d.tokenizer().vocabSize();
        EncoderConfig model = config(characters, 16);
        TrainConfig cfg = new TrainConfig(model.shape(), 80, 8, 1e-2f, 1e-4f, 5, 0.1f, 1.0f, 40, 2, 7);
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        Path dir = tmp.resolve("enc");
        EncoderTrainer.Result r = new EncoderTrainer(cfg, model, characters, new PrintStream(log)).train(d.train(), d.val(), best -> {
            try {
                ModelWriter.write(dir, best, d.tokenizer(), false, Map.of("format", "pt"));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        r.weights().close();
        assertTrue(log.toString().contains("masked-char"), log.toString());
        try (EncoderModel loaded = EncoderModel.load(dir, ai.djl.Device.cpu())) {
            assertEquals(characters, loaded.weights().config().maskTokenId());
            double before;
            try (EncoderWeights untrained = Init.randomEncoder(model, Djl.newManager(), 7)) {
                before = EncoderEvaluation.maskedLoss(untrained, d.val(), characters, 1).loss();
            }
            EncoderEvaluation.MaskedLoss after = EncoderEvaluation.maskedLoss(loaded.weights(), d.val(), characters, 1);
            // eight words: a masked letter is mostly given by its word's other letters
            assertTrue(after.loss() < 0.7 * before, "learned: " + before + " -> " + after.loss());
            assertEquals(r.bestVal(), after.loss(), 0.3, "the written best is the trainer's best");
        }
    }

    @Test
    void rankingCreditsOnlyAStrictlyNearestAnswer() {
        float[][] unit = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
        EncoderEvaluation.Retrieval exact = EncoderEvaluation.rank(unit, unit, 1);
        assertEquals(1.0, exact.top1());
        assertEquals(1.0, exact.mrr());
        float[][] same = {{1, 0, 0}, {1, 0, 0}, {1, 0, 0}};
        EncoderEvaluation.Retrieval degenerate = EncoderEvaluation.rank(same, same, 1);
        assertEquals(0.0, degenerate.top1(), "ties count against the query");
        assertEquals(1.0 / 3, degenerate.mrr(), 1e-9);
        float[][] swapped = {unit[1], unit[0], unit[2]};
        EncoderEvaluation.Retrieval two = EncoderEvaluation.rank(unit, swapped, 1);
        assertEquals(1.0 / 3, two.top1(), 1e-9);
    }
}

package dev.moaserve.train;

import ai.djl.ndarray.NDArray;
import dev.moaserve.model.CharTokenizer;
import dev.moaserve.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A run stopped after a validation and resumed computes what the same run without a stop computes. */
class TrainResumeTest {

    private static TextData data() {
        return words(6000);
    }

    /** About {@code chars} characters of eight words in random order, split 90/10. */
    static TextData words(int chars) {
        Random rnd = new Random(1);
        StringBuilder sb = new StringBuilder();
        String[] words = {"to ", "be ", "or ", "not ", "that ", "is ", "the ", "question\n"};
        while (sb.length() < chars) {
            sb.append(words[rnd.nextInt(words.length)]);
        }
        String text = sb.toString();
        return TextData.of(text, CharTokenizer.fromText(text), 0.9);
    }

    private static TrainConfig config(int vocab) {
        return config(vocab, 0f);
    }

    private static TrainConfig config(int vocab, float dropout) {
        ModelConfig m = ModelConfig.builder().vocab(vocab).dim(16).depth(2).seqLen(16).localWindow(4).routedWindow(4)
                .routedQueries(2).routedKeyValues(4).experts(2).dimHead(4).heads(2).ffMult(2).build();
        return new TrainConfig(m, 12, 2, 3e-3f, 1e-4f, 2, 0.1f, 1.0f, 4, 1, 7, dropout);
    }

    /** With dropout too: each step's masks are drawn again from the seed and the step. */
    @ParameterizedTest(name = "dropout {0}")
    @ValueSource(floats = {0f, 0.2f})
    void aResumedRunEqualsAnUninterruptedOne(float dropout, @TempDir Path tmp) throws Exception {
        TextData d = data();
        TrainConfig cfg = config(d.tokenizer().vocabSize(), dropout);
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        Trainer.Result straight = new Trainer(cfg, quiet).train(d.train(), d.val(), null, tmp.resolve("a"), false);

        Path b = tmp.resolve("b");
        Trainer.Result stopped = new Trainer(cfg, quiet).stopAfter(4).train(d.train(), d.val(), null, b, false);
        stopped.weights().close();
        assertTrue(Files.isRegularFile(b.resolve("checkpoint/state.json")));
        assertEquals(dropout, Trainer.checkpointedConfig(b).dropout(), "the checkpoint keeps the run's dropout");
        // the checkpoint's configuration wins over the one given (as `train --resume` documents)
        TrainConfig other = new TrainConfig(cfg.model(), 99, 2, 1e-2f, 1e-4f, 2, 0.1f, 1.0f, 4, 1, 8);
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        Trainer.Result resumed = new Trainer(other, new PrintStream(log)).train(d.train(), d.val(), null, b, true);
        assertTrue(log.toString().contains("resumed at step 4/12"), log.toString());

        assertEquals(straight.curve().size(), resumed.curve().size());
        for (int i = 0; i < straight.curve().size(); i++) {
            assertEquals(straight.curve().get(i).validation(), resumed.curve().get(i).validation(), 1e-6, "validation " + i);
        }
        assertEquals(straight.bestStep(), resumed.bestStep());
        double worst = 0;
        for (Map.Entry<String, NDArray> e : straight.weights().params().entrySet()) {
            float[] x = e.getValue().toFloatArray();
            float[] y = resumed.weights().params().get(e.getKey()).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                worst = Math.max(worst, Math.abs(x[i] - y[i]));
            }
        }
        System.out.printf("dropout %.1f: resumed vs uninterrupted: max abs parameter difference %.3g%n", dropout, worst);
        assertTrue(worst <= 1e-6, "parameters differ by " + worst);
        straight.weights().close();
        resumed.weights().close();
    }

    @Test
    void dropoutChangesTheRun(@TempDir Path tmp) throws Exception {
        TextData d = data();
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        Trainer.Result plain = new Trainer(config(d.tokenizer().vocabSize(), 0f), quiet).stopAfter(4)
                .train(d.train(), d.val(), null, tmp.resolve("a"), false);
        Trainer.Result dropped = new Trainer(config(d.tokenizer().vocabSize(), 0.5f), quiet).stopAfter(4)
                .train(d.train(), d.val(), null, tmp.resolve("b"), false);
        // same initial weights and batches: the losses differ only through the dropped elements
        assertNotEquals(plain.curve().get(0).trainLoss(), dropped.curve().get(0).trainLoss());
        plain.weights().close();
        dropped.weights().close();
        assertThrows(IllegalArgumentException.class, () -> config(d.tokenizer().vocabSize(), 1f));
    }

    @Test
    void aResumedRunCanTakeANewLength(@TempDir Path tmp) throws Exception {
        TextData d = data();
        TrainConfig cfg = config(d.tokenizer().vocabSize());
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        new Trainer(cfg, quiet).stopAfter(4).train(d.train(), d.val(), null, tmp, false).weights().close();
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        Trainer.Result shorter = new Trainer(cfg, new PrintStream(log)).resumeWithSteps(8).train(d.train(), d.val(), null, tmp, true);
        assertTrue(log.toString().contains("resumed at step 4/8"), log.toString());
        assertEquals(8, shorter.curve().get(shorter.curve().size() - 1).step(), "the run ends at its new length");
        shorter.weights().close();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Trainer(cfg, quiet)
                .resumeWithSteps(3).train(d.train(), d.val(), null, tmp, true));
        assertTrue(e.getMessage().contains("beyond the checkpoint's step"), e.getMessage());
    }

    @Test
    void resumingWithoutACheckpointSaysWhere(@TempDir Path tmp) {
        TextData d = data();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Trainer(config(d.tokenizer().vocabSize()),
                new PrintStream(new ByteArrayOutputStream())).train(d.train(), d.val(), null, tmp, true));
        assertTrue(e.getMessage().contains("no checkpoint in"), e.getMessage());
    }
}

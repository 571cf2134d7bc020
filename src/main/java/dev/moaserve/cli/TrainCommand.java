package dev.moaserve.cli;

import dev.moaserve.model.ModelConfig;
import dev.moaserve.train.Evaluation;
import dev.moaserve.train.ModelWriter;
import dev.moaserve.train.TextData;
import dev.moaserve.train.TrainConfig;
import dev.moaserve.train.Trainer;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * {@code train --text <file> --out <dir> [options]}: trains a character-level MoA model on a text
 * (nanoGPT split: first 90% train, last 10% validation), checkpoints the best model (by
 * full-forward validation loss) to {@code --out}, then reports the generation-semantics loss.
 * {@code --dense} trains the dense-attention baseline of the same size (local window = routed
 * window = context, so no routing). {@code --minutes M} replaces {@code --steps} by a time budget.
 */
public final class TrainCommand {
    private TrainCommand() {}

    public static int run(String[] argv, PrintStream out, PrintStream err) {
        Args a;
        try {
            a = new Args(argv, "dense", "f32", "compare-f16");
            Path text = Path.of(a.required("text"));
            Path dir = Path.of(a.required("out"));
            int seq = a.integer("seq-len", 256);
            boolean dense = a.flag("dense");
            int window = dense ? seq : a.integer("window", 32);
            ModelConfig model = new ModelConfig(1, a.integer("dim", 128), a.integer("depth", 4), seq,
                    dense ? seq : a.integer("local-window", window), window,
                    a.integer("routed-queries", 16), a.integer("routed-kv", 32), a.integer("experts", 2),
                    a.integer("dim-head", 32), a.integer("heads", 4), a.integer("ff-mult", 4), true,
                    a.number("fetch-k-ratio", 1.0), 20, 0.03, 4.0, 0.7, 8);
            TextData data = TextData.load(text, 0.9);
            model = withVocab(model, data.tokenizer().vocabSize());
            TrainConfig cfg = new TrainConfig(model, a.integer("steps", 3000), a.integer("batch", 16),
                    (float) a.number("lr", 2e-3), (float) a.number("min-lr", 1e-4), a.integer("warmup", 100),
                    (float) a.number("weight-decay", 0.1), (float) a.number("clip", 1.0),
                    a.integer("eval-every", 250), a.integer("eval-batches", 8), a.integer("seed", 1337));
            boolean half = !a.flag("f32");
            out.printf(Locale.ROOT, "train: %s, vocab %d, %d train / %d val tokens%n", text, model.numTokens(),
                    data.train().length, data.val().length);
            out.println("config: " + model.toJson());
            Trainer.Result r = new Trainer(cfg, out, a.number("minutes", 0)).train(data.train(), data.val(), w -> {
                try {
                    ModelWriter.write(dir, w, data.tokenizer(), half, Map.of("format", "pt"));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            Files.writeString(dir.resolve("training-curve.csv"), curveCsv(r), StandardCharsets.UTF_8);
            out.printf(Locale.ROOT, "done: %.0f s, best full-forward val %.4f at step %d, params %d%n",
                    r.seconds(), r.bestVal(), r.bestStep(), r.weights().parameterCount());
            try (var best = dev.moaserve.model.MoaModel.load(dir)) {
                Evaluation.Loss gen = Evaluation.generationLoss(best.weights(), data.val(), 64);
                Evaluation.Loss full = Evaluation.fullForwardLoss(best.weights(), data.val(), 16);
                out.printf(Locale.ROOT, "best checkpoint: val loss=%.4f tokens=%d (generation semantics) "
                        + "full_forward_loss=%.4f%n", gen.loss(), gen.tokens(), full.loss());
            }
            if (a.flag("compare-f16")) {
                // the final weights in F32 against the same weights rounded to F16 (what is shipped)
                Path f16 = dir.resolve("final-f16");
                ModelWriter.write(f16, r.weights(), data.tokenizer(), true, Map.of("format", "pt"));
                double f32Loss = Evaluation.generationLoss(r.weights(), data.val(), 64).loss();
                try (var half16 = dev.moaserve.model.MoaModel.load(f16)) {
                    double f16Loss = Evaluation.generationLoss(half16.weights(), data.val(), 64).loss();
                    out.printf(Locale.ROOT, "final weights: val loss F32=%.4f F16=%.4f (difference %.4f)%n",
                            f32Loss, f16Loss, f16Loss - f32Loss);
                }
            }
            r.weights().close();
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("train: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("train: " + e.getMessage());
            return 1;
        }
    }

    private static ModelConfig withVocab(ModelConfig c, int vocab) {
        return new ModelConfig(vocab, c.dim(), c.depth(), c.seqLen(), c.localAttnWindowSize(), c.routedWindowSize(),
                c.numRoutedQueries(), c.numRoutedKeyValues(), c.numExperts(), c.dimHead(), c.heads(), c.ffMult(),
                c.cosineSimRouting(), c.fetchKRatio(), c.routerNIters(), c.routerEps(), c.routerEpsInit(),
                c.routerEpsDecay(), c.cosineSimScale());
    }

    private static String curveCsv(Trainer.Result r) {
        StringBuilder sb = new StringBuilder("step,seconds,train_loss,val_loss_full_forward\n");
        for (Trainer.Point p : r.curve()) {
            sb.append(String.format(Locale.ROOT, "%d,%.1f,%.4f,%.4f%n", p.step(), p.seconds(), p.trainLoss(), p.valLoss()));
        }
        return sb.toString();
    }
}

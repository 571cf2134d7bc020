package dev.moaserve.cli;

import dev.moaserve.model.MoaModel;
import dev.moaserve.model.ModelException;
import dev.moaserve.model.Tokenizer;
import dev.moaserve.train.Evaluation;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * {@code eval --text <file> [--model <dir>] [--from 0.9]}: prints
 * {@code loss=<nats/token> tokens=<n> full_forward_loss=<nats/token>} over the text from that
 * fraction on, in non-overlapping context-sized blocks; {@code loss} under the generation
 * semantics (incremental decoding), {@code full_forward_loss} from one (leaky) full forward.
 */
public final class EvalCommand {
    private EvalCommand() {}

    public static int run(String[] argv, PrintStream out, PrintStream err) {
        try {
            Args a = new Args(argv);
            Path text = Path.of(a.required("text"));
            double from = a.number("from", 0.9);
            if (!(from >= 0 && from < 1)) {
                throw new IllegalArgumentException("--from must be in [0, 1), got " + from);
            }
            String dir = a.string("model", null);
            try (MoaModel model = dir == null ? MoaModel.loadEmbedded() : MoaModel.load(Path.of(dir))) {
                int[] data = slice(Files.readString(text, StandardCharsets.UTF_8), from, model.tokenizer());
                if (data.length <= model.config().seqLen()) {
                    throw new IllegalArgumentException("text after --from is shorter than one context block ("
                            + (model.config().seqLen() + 1) + " tokens)");
                }
                Evaluation.Loss gen = Evaluation.generationLoss(model.weights(), data, a.integer("batch", 64));
                Evaluation.Loss full = Evaluation.fullForwardLoss(model.weights(), data, 16);
                out.printf(Locale.ROOT, "loss=%.4f tokens=%d full_forward_loss=%.4f%n", gen.loss(), gen.tokens(), full.loss());
            }
            return 0;
        } catch (IllegalArgumentException | ModelException e) {
            err.println("eval: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("eval: " + e.getMessage());
            return 1;
        }
    }

    /** Token ids of the text from a fraction of its characters on (nanoGPT's split point). */
    static int[] slice(String text, double from, Tokenizer tokenizer) {
        if (tokenizer == null) {
            throw new IllegalArgumentException("the model has no tokenizer");
        }
        int[] cps = text.codePoints().toArray();
        int cut = (int) (cps.length * from);
        String tail = new String(cps, cut, cps.length - cut);
        long[] ids = tokenizer.encode(tail);
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }
}

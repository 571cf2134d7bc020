package dev.moaserve.cli;

import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.EncoderModel;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.Init;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.Tokenizer;
import dev.moaserve.train.EncoderEvaluation;
import dev.moaserve.train.Evaluation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code eval --text <file> [--model <dir>] [--from 0.9]}: prints
 * {@code loss=<nats/token> tokens=<n> full_forward_loss=<nats/token>} over the text from that
 * fraction on, in non-overlapping context-sized blocks; {@code loss} under the generation
 * semantics (incremental decoding), {@code full_forward_loss} from one (leaky) full forward.
 * Progress goes to stderr. On an encoder directory it prints
 * {@code masked_char_loss=<nats> tokens=<n>} and a {@code retrieval ...} line instead.
 */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Language-model loss of a model on the tail of a text.",
                "In context-sized blocks; prints loss=<nats/token> tokens=<n> full_forward_loss=<nats/token> (progress on stderr)."})
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--text", required = true, paramLabel = "FILE", description = "UTF-8 text to evaluate on")
    Path text;

    @Option(names = "--model", paramLabel = "DIR", description = "model directory (default: the embedded model)")
    Path model;

    @Option(names = "--from", defaultValue = "0.9", paramLabel = "FRACTION",
            description = "evaluate the text from this fraction of its characters on (default: ${DEFAULT-VALUE}, nanoGPT's validation split)")
    double from;

    @Option(names = "--eval-tokens", paramLabel = "N|all", defaultValue = "all",
            description = "predict at most N tokens (whole blocks from the start of the split; default: ${DEFAULT-VALUE})")
    String evalTokens;

    @Option(names = "--batch", defaultValue = "64", description = "blocks decoded together (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--decode", defaultValue = "exact", paramLabel = "exact|frozen",
            description = "frozen: also the generation loss under frozen-prefix decoding (frozen_loss=, beside the exact loss)")
    String decode;

    private final PrintStream out;
    private final PrintStream err;

    EvalCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() throws IOException {
        if (!(from >= 0 && from < 1)) {
            throw new IllegalArgumentException("--from must be in [0, 1), got " + from);
        }
        long limit = tokenLimit("--eval-tokens", evalTokens);
        if (limit == 0) {
            throw new IllegalArgumentException("--eval-tokens must be positive or 'all'");
        }
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be positive");
        }
        DecodeMode mode = DecodeMode.parse(decode);
        if (!Files.isRegularFile(text)) {
            throw new IllegalArgumentException("text file not found: " + text);
        }
        if (model != null && EncoderModel.isEncoder(model)) {
            return evaluateEncoder(limit);
        }
        try (MoaModel m = model == null ? MoaModel.loadEmbedded() : MoaModel.load(model)) {
            int seq = m.config().seqLen();
            int[] data = slice(Files.readString(text, StandardCharsets.UTF_8), from, m.tokenizer());
            if (data.length <= seq) {
                throw new IllegalArgumentException("text after --from is shorter than one context block (" + (seq + 1) + " tokens)");
            }
            data = Evaluation.firstTokens(data, limit, seq);
            err.printf(Locale.ROOT, "eval: %s on %d tokens of %s%n", m.name(), Evaluation.tokens(data, seq), text);
            Evaluation.Loss gen = Evaluation.generationLoss(m.weights(), data, batch, new ProgressLine(err, "generation loss"));
            Evaluation.Loss full = Evaluation.fullForwardLoss(m.weights(), data, 16, new ProgressLine(err, "full-forward loss"));
            String frozen = "";
            if (mode == DecodeMode.FROZEN) {
                Evaluation.Loss f = Evaluation.generationLoss(m.weights(), data, batch, DecodeMode.FROZEN,
                        new ProgressLine(err, "frozen generation loss"));
                frozen = String.format(Locale.ROOT, " frozen_loss=%.4f", f.loss());
            }
            out.printf(Locale.ROOT, "loss=%.4f tokens=%d full_forward_loss=%.4f%s%n", gen.loss(), gen.tokens(), full.loss(), frozen);
        }
        return 0;
    }

    /**
     * An encoder: its masked-character loss on the split (masks drawn from a fixed seed) and the
     * retrieval of held-out passages' second halves from their first halves, by its embeddings,
     * by bag-of-characters vectors, and by the same encoder untrained (a control).
     */
    private int evaluateEncoder(long limit) throws IOException {
        try (EncoderModel e = EncoderModel.load(model, ai.djl.Device.cpu());
             EncoderWeights untrained = Init.randomEncoder(e.weights().config(), dev.moaserve.model.Djl.newManager(), 1337)) {
            if (e.weights().config().maskTokenId() == null) {
                throw new IllegalArgumentException(model + ": an encoder needs mask_token_id in config.json to be evaluated");
            }
            int[] data = slice(Files.readString(text, StandardCharsets.UTF_8), from, e.tokenizer());
            int seq = e.weights().config().seqLen();
            if (limit < data.length) {
                data = java.util.Arrays.copyOf(data, (int) limit);
            }
            if (data.length < seq) {
                throw new IllegalArgumentException("text after --from is shorter than one context block (" + seq + " tokens)");
            }
            int characters = e.tokenizer().vocabSize();
            err.printf(Locale.ROOT, "eval: encoder %s on %d tokens of %s%n", e.name(), data.length, text);
            EncoderEvaluation.MaskedLoss loss = EncoderEvaluation.maskedLoss(e.weights(), data, characters, 1);
            out.printf(Locale.ROOT, "masked_char_loss=%.4f tokens=%d%n", loss.loss(), loss.tokens());
            int half = seq / 2; // a passage is one context, as the contrastive tuning takes them
            EncoderEvaluation.Retrieval emb = EncoderEvaluation.byEmbeddings(e.weights(), data, half);
            EncoderEvaluation.Retrieval boc = EncoderEvaluation.byCharacterCounts(data, half, e.weights().config().shape().numTokens());
            EncoderEvaluation.Retrieval ctl = EncoderEvaluation.byEmbeddings(untrained, data, half);
            out.printf(Locale.ROOT, "retrieval passages=%d half_tokens=%d %s %s %s%n", emb.passages(), half,
                    retrieval("embeddings", emb), retrieval("bag_of_characters", boc), retrieval("untrained", ctl));
        }
        return 0;
    }

    private static String retrieval(String name, EncoderEvaluation.Retrieval r) {
        return String.format(Locale.ROOT, "%1$s_top1=%2$.3f %1$s_recall10=%3$.3f %1$s_mrr=%4$.3f", name, r.top1(), r.recall10(), r.mrr());
    }

    /** {@code N} or {@code all} (= no bound) as a token count; 0 stays 0. */
    static long tokenLimit(String option, String value) {
        if (value.equalsIgnoreCase("all")) {
            return Long.MAX_VALUE;
        }
        try {
            long n = Long.parseLong(value);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(option + " must be a token count or 'all', got '" + value + "'");
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

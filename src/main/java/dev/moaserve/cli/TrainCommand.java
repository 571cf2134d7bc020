package dev.moaserve.cli;

import dev.moaserve.model.CharTokenizer;
import dev.moaserve.model.EncoderConfig;
import dev.moaserve.model.EncoderModel;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.train.ContrastiveTuner;
import dev.moaserve.train.EncoderTrainer;
import dev.moaserve.train.Evaluation;
import dev.moaserve.train.ModelWriter;
import dev.moaserve.train.TextData;
import dev.moaserve.train.TrainConfig;
import dev.moaserve.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code train --text <file> --out <dir> [options]}: trains a character-level MoA model on a text
 * (nanoGPT split: first 90% train, last 10% validation), checkpoints the best model (by
 * full-forward validation loss) to {@code --out}, then reports the generation-semantics loss.
 * {@code --dense} trains the dense-attention baseline of the same size (local window = routed
 * window = context, so no routing). {@code --minutes M} replaces {@code --steps} by a time budget;
 * {@code --eval-tokens N} bounds the final evaluation (0 skips it).
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        description = {"Train a character-level MoA model on a text.",
                "First 90 %% of the text trains, the last 10 %% validates; the best model (by full-forward validation loss) is written to --out."})
final class TrainCommand implements Callable<Integer> {
    /** Where, under --out, the weights of the last step are written beside the best checkpoint. */
    static final String LAST = "last";

    @Option(names = "--text", required = true, paramLabel = "FILE", description = "UTF-8 training text")
    Path text;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "where the model directory is written")
    Path out;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--steps", defaultValue = "3000", description = "optimiser steps (default: ${DEFAULT-VALUE})")
    int steps;
    @Option(names = "--minutes", defaultValue = "0", description = "train for this long instead of --steps (0: use --steps)")
    double minutes;
    @Option(names = "--eval-tokens", paramLabel = "N|all", defaultValue = "32768",
            description = "final evaluation of the best checkpoint on at most N validation tokens; 0 skips it, 'all' takes the whole split (default: ${DEFAULT-VALUE})")
    String evalTokens;

    @Option(names = "--seq-len", defaultValue = "256", description = "context length (default: ${DEFAULT-VALUE})")
    int seqLen;
    @Option(names = "--dim", defaultValue = "128", description = "model width (default: ${DEFAULT-VALUE})")
    int dim;
    @Option(names = "--depth", defaultValue = "4", description = "layers (default: ${DEFAULT-VALUE})")
    int depth;
    @Option(names = "--heads", defaultValue = "4", description = "attention heads (default: ${DEFAULT-VALUE})")
    int heads;
    @Option(names = "--dim-head", defaultValue = "32", description = "width of a head (default: ${DEFAULT-VALUE})")
    int dimHead;
    @Option(names = "--ff-mult", defaultValue = "4", description = "feed-forward width multiple (default: ${DEFAULT-VALUE})")
    int ffMult;
    @Option(names = "--window", defaultValue = "32", description = "routed window w (default: ${DEFAULT-VALUE})")
    int window;
    @Option(names = "--local-window", description = "local attention window W (default: --window)")
    Integer localWindow;
    @Option(names = "--routed-queries", defaultValue = "16", description = "routed queries k_q per window (default: ${DEFAULT-VALUE})")
    int routedQueries;
    @Option(names = "--routed-kv", defaultValue = "32", description = "routed keys/values k_kv (default: ${DEFAULT-VALUE})")
    int routedKv;
    @Option(names = "--experts", defaultValue = "2", description = "routed attention experts (default: ${DEFAULT-VALUE})")
    int experts;
    @Option(names = "--fetch-k-ratio", defaultValue = "1.0", description = "router fetch ratio (default: ${DEFAULT-VALUE})")
    double fetchKRatio;
    @Option(names = "--encoder", description = "a MoA encoder (model_type moa_encoder) by masked-character modelling: "
            + "routed attention over the whole --seq-len, beside non-causal local attention of --local-window (0: none)")
    boolean encoder;
    @Option(names = "--contrastive-from", paramLabel = "DIR",
            description = "tune the embeddings of the encoder in DIR for retrieval (InfoNCE: the two halves of a training "
                    + "passage of its context are a pair, the batch's other passages the negatives); writes --out")
    Path contrastiveFrom;
    @Option(names = "--dense", description = "the dense-attention baseline of the same size (windows = context: no routing)")
    boolean dense;

    @Option(names = "--batch", defaultValue = "16", description = "sequences per step (default: ${DEFAULT-VALUE})")
    int batch;
    @Option(names = "--lr", defaultValue = "2e-3", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    float lr;
    @Option(names = "--min-lr", defaultValue = "1e-4", description = "final learning rate (default: ${DEFAULT-VALUE})")
    float minLr;
    @Option(names = "--warmup", defaultValue = "100", description = "warm-up steps (default: ${DEFAULT-VALUE})")
    int warmup;
    @Option(names = "--weight-decay", defaultValue = "0.1", description = "AdamW weight decay (default: ${DEFAULT-VALUE})")
    float weightDecay;
    @Option(names = "--clip", defaultValue = "1.0", description = "gradient norm clip (default: ${DEFAULT-VALUE})")
    float clip;
    @Option(names = "--dropout", defaultValue = "0", description = "residual dropout probability while training (default: ${DEFAULT-VALUE})")
    float dropout;
    @Option(names = "--eval-every", defaultValue = "250", description = "steps between validation estimates (default: ${DEFAULT-VALUE})")
    int evalEvery;
    @Option(names = "--eval-batches", defaultValue = "8", description = "batches per validation estimate (default: ${DEFAULT-VALUE})")
    int evalBatches;
    @Option(names = "--seed", defaultValue = "1337", description = "initialisation and batching seed (default: ${DEFAULT-VALUE})")
    int seed;
    @Option(names = "--resume", description = "continue the run checkpointed in --out (written at every validation) "
            + "with its own configuration; shape and schedule options are then not read")
    boolean resume;

    @Option(names = "--vocab", defaultValue = "text", paramLabel = "text|ascii",
            description = "text: the text's distinct characters (nanoGPT's rule); ascii: printable ASCII, tab and newline "
                    + "as well, so users can type digits, braces, quotes (default: ${DEFAULT-VALUE})")
    String vocab;

    @Option(names = "--f32", description = "write float32 weights (default: float16, as shipped)")
    boolean f32;
    @Option(names = "--compare-f16", description = "also report the final weights' loss in float32 vs rounded to float16")
    boolean compareF16;

    private final PrintStream log;
    private final PrintStream err;

    TrainCommand(PrintStream log, PrintStream err) {
        this.log = log;
        this.err = err;
    }

    @Override
    public Integer call() throws IOException {
        long evalLimit = EvalCommand.tokenLimit("--eval-tokens", evalTokens);
        if (!Files.isRegularFile(text)) {
            throw new IllegalArgumentException("text file not found: " + text);
        }
        if (dropout != 0 && (encoder || contrastiveFrom != null)) {
            throw new IllegalArgumentException("--dropout is for the autoregressive trainer (not --encoder or --contrastive-from)");
        }
        int w = dense ? seqLen : window;
        ModelConfig model = ModelConfig.builder().vocab(1).dim(dim).depth(depth).seqLen(seqLen)
                .localWindow(dense ? seqLen : localWindow == null ? w : localWindow).routedWindow(w)
                .routedQueries(routedQueries).routedKeyValues(routedKv).experts(experts).dimHead(dimHead)
                .heads(heads).ffMult(ffMult).fetchKRatio(fetchKRatio).build();
        if (!vocab.equals("text") && !vocab.equals("ascii")) {
            throw new IllegalArgumentException("--vocab must be 'text' or 'ascii', got '" + vocab + "'");
        }
        TextData data = TextData.load(text, 0.9, vocab.equals("ascii"));
        if (contrastiveFrom != null) {
            return tuneEncoder(data);
        }
        if (encoder) {
            return trainEncoder(data);
        }
        model = withVocab(model, data.tokenizer().vocabSize());
        TrainConfig cfg = new TrainConfig(model, steps, batch, lr, minLr, warmup, weightDecay, clip, evalEvery, evalBatches, seed,
                dropout);
        if (resume) {
            cfg = Trainer.checkpointedConfig(out);
            if (cfg.model().numTokens() != model.numTokens()) {
                throw new IllegalArgumentException("--resume: the checkpoint's vocabulary has " + cfg.model().numTokens()
                        + " tokens, this text and --vocab give " + model.numTokens());
            }
            model = cfg.model();
        }
        int contextLen = model.seqLen();
        boolean half = !f32;
        log.printf(Locale.ROOT, "train: %s, vocab %d, %d train / %d val tokens%n", text, model.numTokens(),
                data.train().length, data.val().length);
        log.println("config: " + model.toJson());
        Path dir = out;
        Trainer trainer = new Trainer(cfg, log, minutes);
        if (resume && spec.commandLine().getParseResult().hasMatchedOption("--steps")) {
            trainer.resumeWithSteps(steps); // a resumed run may shorten or extend its schedule
        }
        Trainer.Result r = trainer.train(data.train(), data.val(), best -> {
            try {
                ModelWriter.write(dir, best, data.tokenizer(), half, Map.of("format", "pt"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, dir, resume);
        Files.writeString(dir.resolve("training-curve.csv"), curveCsv(r.curve(), "val_loss_full_forward"), StandardCharsets.UTF_8);
        log.printf(Locale.ROOT, "done: %.0f s, best full-forward val %.4f at step %d, params %d%n",
                r.seconds(), r.bestVal(), r.bestStep(), r.weights().parameterCount());
        // the best checkpoint is judged on a few random batches: keep the last weights beside it
        ModelWriter.write(dir.resolve(LAST), r.weights(), data.tokenizer(), half, Map.of("format", "pt"));
        log.printf(Locale.ROOT, "last weights (step %d): %s%n", r.curve().isEmpty() ? 0 : r.curve().get(r.curve().size() - 1).step(),
                dir.resolve(LAST));
        if (evalLimit == 0) {
            log.println("final evaluation skipped (--eval-tokens 0)");
        } else {
            try (var best = dev.moaserve.model.MoaModel.load(dir)) {
                int[] val = Evaluation.firstTokens(data.val(), evalLimit, contextLen);
                log.printf(Locale.ROOT, "final evaluation of the best checkpoint on %d of %d validation tokens (--eval-tokens bounds it)%n",
                        Evaluation.tokens(val, contextLen), Evaluation.tokens(data.val(), contextLen));
                Evaluation.Loss gen = Evaluation.generationLoss(best.weights(), val, 64, new ProgressLine(err, "generation loss"));
                Evaluation.Loss full = Evaluation.fullForwardLoss(best.weights(), val, 16, new ProgressLine(err, "full-forward loss"));
                log.printf(Locale.ROOT, "best checkpoint: val loss=%.4f tokens=%d (generation semantics) "
                        + "full_forward_loss=%.4f%n", gen.loss(), gen.tokens(), full.loss());
            }
        }
        if (compareF16) {
            // the final weights in F32 against the same weights rounded to F16 (what is shipped)
            Path f16 = dir.resolve("final-f16");
            ModelWriter.write(f16, r.weights(), data.tokenizer(), true, Map.of("format", "pt"));
            int[] val = Evaluation.firstTokens(data.val(), evalLimit == 0 ? Long.MAX_VALUE : evalLimit, contextLen);
            double f32Loss = Evaluation.generationLoss(r.weights(), val, 64).loss();
            try (var half16 = dev.moaserve.model.MoaModel.load(f16)) {
                double f16Loss = Evaluation.generationLoss(half16.weights(), val, 64).loss();
                log.printf(Locale.ROOT, "final weights: val loss F32=%.4f F16=%.4f (difference %.4f)%n",
                        f32Loss, f16Loss, f16Loss - f32Loss);
            }
        }
        r.weights().close();
        return 0;
    }

    /**
     * An encoder: its vocabulary is the text's characters plus one mask id (the last), which no
     * text encodes to; the routed "window" is the whole context.
     */
    private int trainEncoder(TextData data) throws IOException {
        if (resume || minutes > 0 || dense) {
            throw new IllegalArgumentException("--encoder trains by --steps, without --resume, --minutes or --dense");
        }
        int characters = data.tokenizer().vocabSize();
        int local = localWindow == null ? window : localWindow;
        ModelConfig shape = ModelConfig.builder().vocab(characters + 1).dim(dim).depth(depth).seqLen(seqLen)
                .localWindow(local > 0 ? local : 1).routedWindow(seqLen).routedQueries(routedQueries)
                .routedKeyValues(routedKv).experts(experts).dimHead(dimHead).heads(heads).ffMult(ffMult)
                .fetchKRatio(fetchKRatio).build();
        EncoderConfig model = new EncoderConfig(shape, local > 0, characters);
        TrainConfig cfg = new TrainConfig(shape, steps, batch, lr, minLr, warmup, weightDecay, clip, evalEvery, evalBatches, seed);
        log.printf(Locale.ROOT, "train encoder: %s, %d characters + mask, %d train / %d val tokens%n", text, characters,
                data.train().length, data.val().length);
        log.println("config: " + model.toJson());
        EncoderTrainer.Result r = new EncoderTrainer(cfg, model, characters, log).train(data.train(), data.val(), best -> {
            try {
                ModelWriter.write(out, best, data.tokenizer(), !f32, Map.of("format", "pt"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        Files.writeString(out.resolve("training-curve.csv"), curveCsv(r.curve(), "val_loss_masked_char"), StandardCharsets.UTF_8);
        log.printf(Locale.ROOT, "done: %.0f s, best masked-char val %.4f at step %d, params %d%n",
                r.seconds(), r.bestVal(), r.bestStep(), r.weights().parameterCount());
        r.weights().close();
        return 0;
    }

    /** Contrastive tuning of a trained encoder's embeddings; the final weights are written. */
    private int tuneEncoder(TextData data) throws IOException {
        if (resume || minutes > 0 || dense) {
            throw new IllegalArgumentException("--contrastive-from tunes by --steps, without --resume, --minutes or --dense");
        }
        try (EncoderModel from = EncoderModel.load(contrastiveFrom, ai.djl.Device.cpu())) {
            EncoderWeights w = from.weights();
            if (!(from.tokenizer() instanceof CharTokenizer chars) || !chars.chars().equals(data.tokenizer().chars())
                    || w.config().maskTokenId() == null) {
                throw new IllegalArgumentException("--contrastive-from: needs an encoder trained by train --encoder on this "
                        + "text with --vocab " + vocab + " (its vocabulary and mask_token_id)");
            }
            int half = w.config().seqLen() / 2;
            TrainConfig cfg = new TrainConfig(w.config().shape(), steps, batch, lr, minLr, warmup, weightDecay, clip, evalEvery,
                    evalBatches, seed);
            log.printf(Locale.ROOT, "tune encoder %s for retrieval: passages of 2 x %d tokens, %d per step, %d steps%n",
                    contrastiveFrom, half, batch, steps);
            List<Trainer.Point> curve = new ContrastiveTuner(cfg, half, chars.vocabSize(), log).tune(w, data.train(), data.val());
            ModelWriter.write(out, w, chars, !f32, Map.of("format", "pt"));
            Files.writeString(out.resolve("training-curve.csv"), curveCsv(curve, "val_retrieval_mrr"), StandardCharsets.UTF_8);
            log.printf(Locale.ROOT, "done: written to %s%n", out);
        }
        return 0;
    }

    private static ModelConfig withVocab(ModelConfig c, int vocab) {
        return ModelConfig.builder().vocab(vocab).dim(c.dim()).depth(c.depth()).seqLen(c.seqLen())
                .localWindow(c.localAttnWindowSize()).routedWindow(c.routedWindowSize())
                .routedQueries(c.numRoutedQueries()).routedKeyValues(c.numRoutedKeyValues()).experts(c.numExperts())
                .dimHead(c.dimHead()).heads(c.heads()).ffMult(c.ffMult()).cosineRouting(c.cosineSimRouting())
                .fetchKRatio(c.fetchKRatio()).routerIters(c.routerNIters()).routerEps(c.routerEps())
                .routerEpsInit(c.routerEpsInit()).routerEpsDecay(c.routerEpsDecay()).cosineScale(c.cosineSimScale()).build();
    }

    private static String curveCsv(List<Trainer.Point> curve, String valColumn) {
        StringBuilder sb = new StringBuilder("step,seconds,train_loss," + valColumn + "\n");
        for (Trainer.Point p : curve) {
            sb.append(String.format(Locale.ROOT, "%d,%.1f,%.4f,%.4f%n", p.step(), p.seconds(), p.trainLoss(), p.validation()));
        }
        return sb.toString();
    }
}

package dev.moaserve.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.moaserve.model.Djl;
import dev.moaserve.model.EncoderConfig;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.Init;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Trains a MoA encoder by masked-character modelling ({@link MaskedCharacters}) with the
 * reference's training forward (canonical routing, coordinate-descent straight-through gates):
 * AdamW, warm-up then cosine decay, gradient clipping, as {@link Trainer}; periodic validation
 * (masked-character loss on random validation windows) and a callback on every new best.
 */
public final class EncoderTrainer {
    private final TrainConfig cfg;
    private final EncoderConfig model;
    private final int characters;
    private final PrintStream log;

    /**
     * @param cfg        the run; {@code cfg.model()} is the encoder's shape
     * @param model      the encoder; its {@code mask_token_id} must be set, outside the characters
     * @param characters ids of real characters, [0, characters) (random replacements are drawn there)
     */
    public EncoderTrainer(TrainConfig cfg, EncoderConfig model, int characters, PrintStream log) {
        if (model.maskTokenId() == null || model.maskTokenId() < characters) {
            throw new IllegalArgumentException("the mask id must lie beyond the " + characters + " characters");
        }
        this.cfg = cfg;
        this.model = model;
        this.characters = characters;
        this.log = log;
    }

    /** Result: the trained weights (caller owns them), the curve, the best validation loss. */
    public record Result(EncoderWeights weights, List<Trainer.Point> curve, double bestVal, int bestStep, double seconds) {}

    public Result train(int[] train, int[] val, Consumer<EncoderWeights> onBest) {
        Djl.engine();
        NDManager manager = Djl.newManager();
        EncoderWeights w = Init.randomEncoder(model, manager, cfg.seed());
        List<NDArray> params = new ArrayList<>(w.params().values());
        GradientStep update = new GradientStep(params, new AdamW(params, manager, 0.9f, 0.99f, cfg.weightDecay()), log);
        Random rnd = new Random(cfg.seed());
        Random valRnd = new Random(cfg.seed() + 1);
        List<Trainer.Point> curve = new ArrayList<>();
        double best = Double.POSITIVE_INFINITY;
        int bestStep = -1;
        double emaLoss = Double.NaN;
        int seq = model.seqLen();
        for (NDArray p : params) {
            p.setRequiresGradient(true);
        }
        long t0 = System.nanoTime();
        for (int step = 1; step <= cfg.steps(); step++) {
            float lr = Trainer.learningRate(cfg, step);
            double loss;
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                MaskedCharacters.Batch b = MaskedCharacters.corrupt(train, MaskedCharacters.randomStarts(train, cfg.batch(), seq, rnd),
                        seq, model.maskTokenId(), characters, rnd, true);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    w.derive();
                    NDArray l = MaskedCharacters.loss(w, manager, b, true);
                    gc.backward(l);
                    loss = l.getFloat();
                }
                update.apply(lr, cfg.clip());
            }
            emaLoss = Double.isNaN(emaLoss) ? loss : 0.95 * emaLoss + 0.05 * loss;
            double secs = (System.nanoTime() - t0) / 1e9;
            if (step % 10 == 0 || step == 1) {
                log.printf(Locale.ROOT, "%s step %d/%d masked-char loss %.4f lr %.2e %.0f tok/s %s elapsed, ETA %s%n",
                        Trainer.bar(step, cfg.steps()), step, cfg.steps(), emaLoss, lr, (double) step * cfg.batch() * seq / secs,
                        Trainer.hms(secs), Trainer.hms(secs / step * (cfg.steps() - step)));
            }
            if (step % cfg.evalEvery() == 0 || step == cfg.steps()) {
                double v = validate(w, manager, val, valRnd);
                curve.add(new Trainer.Point(step, emaLoss, v, secs));
                boolean improved = v < best;
                if (improved) {
                    best = v;
                    bestStep = step;
                    onBest.accept(w); // parameters only: the writer reads no derived view
                }
                log.printf(Locale.ROOT, "eval step %d train %.4f val %.4f (masked-char)%s%n", step, emaLoss, v,
                        improved ? " best: written" : "");
            }
        }
        for (NDArray p : params) {
            p.setRequiresGradient(false);
        }
        w.derive();
        return new Result(w, curve, best, bestStep, (System.nanoTime() - t0) / 1e9);
    }

    /** Masked-character loss on random validation windows (every selected position masked). */
    private double validate(EncoderWeights w, NDManager manager, int[] val, Random rnd) {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        double total = 0;
        try {
            for (int i = 0; i < cfg.evalBatches(); i++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    w.derive();
                    int seq = model.seqLen();
                    MaskedCharacters.Batch b = MaskedCharacters.corrupt(val, MaskedCharacters.randomStarts(val, cfg.batch(), seq, rnd),
                            seq, model.maskTokenId(), characters, rnd, false);
                    total += MaskedCharacters.loss(w, manager, b, false).getFloat();
                }
            }
        } finally {
            JniUtils.setGradMode(grad);
        }
        return total / cfg.evalBatches();
    }
}

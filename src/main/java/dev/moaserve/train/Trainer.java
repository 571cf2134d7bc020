package dev.moaserve.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Dropout;
import dev.moaserve.model.FullForward;
import dev.moaserve.model.Init;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.Ops;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Trains a MoA {@code Transformer} on a token stream with the reference's training forward
 * (canonical routing + coordinate-descent straight-through gates): AdamW, linear warm-up then
 * cosine decay, global-norm gradient clipping, periodic validation and a callback on every new
 * best validation loss (checkpointing).
 */
public final class Trainer {
    private TrainConfig cfg;
    private final PrintStream log;
    private final double minutes;
    private GradientStep update;
    private int stopAfter = Integer.MAX_VALUE;
    private int resumeSteps;

    public Trainer(TrainConfig cfg, PrintStream log) {
        this(cfg, log, 0);
    }

    /**
     * @param minutes if &gt; 0, a time budget: at step 40 the total step count (and so the cosine
     *                schedule) is fixed to what fits in the budget at the speed of steps 11..40
     */
    public Trainer(TrainConfig cfg, PrintStream log, double minutes) {
        this.cfg = cfg;
        this.log = log;
        this.minutes = minutes;
    }

    /**
     * One point of a training curve: the smoothed training loss and the validation figure at a
     * step (a validation loss; for contrastive tuning, the validation retrieval MRR).
     */
    public record Point(int step, double trainLoss, double validation, double seconds) {}

    /** Result: the trained weights (caller owns them) and the curve. */
    public record Result(MoaWeights weights, List<Point> curve, double bestVal, int bestStep, double seconds) {}

    public Result train(int[] train, int[] val, Consumer<MoaWeights> onBest) {
        try {
            return train(train, val, onBest, null, false);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * A resumed run with a new schedule length: the cosine decay ends at {@code steps} instead of
     * the checkpoint's (a run shortened or extended midway).
     */
    public Trainer resumeWithSteps(int steps) {
        this.resumeSteps = steps;
        return this;
    }

    /** Stops after {@code step} (its checkpoint written), as a run killed then would have (tests). */
    Trainer stopAfter(int step) {
        this.stopAfter = step;
        return this;
    }

    /** The configuration of the run checkpointed in {@code out} (what {@code --resume} continues). */
    public static TrainConfig checkpointedConfig(java.nio.file.Path out) throws java.io.IOException {
        return TrainCheckpoint.load(out).config;
    }

    /**
     * @param checkpoints where to write a resumable checkpoint at every validation ({@code
     *                    checkpoints/checkpoint/}), or null for none
     * @param resume      continue from the checkpoint there (the run's configuration is the checkpoint's)
     */
    public Result train(int[] train, int[] val, Consumer<MoaWeights> onBest, java.nio.file.Path checkpoints, boolean resume)
            throws java.io.IOException {
        Djl.engine();
        TrainCheckpoint from = resume ? TrainCheckpoint.load(checkpoints) : null;
        if (from != null) {
            cfg = from.config;
            if (resumeSteps > 0) {
                if (resumeSteps <= from.progress.step()) {
                    throw new IllegalArgumentException("--steps " + resumeSteps + " must lie beyond the checkpoint's step "
                            + from.progress.step());
                }
                cfg = cfg.withSteps(resumeSteps);
            }
        }
        NDManager manager = Djl.newManager();
        MoaWeights w = Init.random(cfg.model(), manager, cfg.seed());
        List<NDArray> params = new ArrayList<>(w.params().values());
        AdamW opt = new AdamW(params, manager, 0.9f, 0.99f, cfg.weightDecay());
        update = new GradientStep(params, opt, log);
        Random rnd = new Random(cfg.seed());
        Random valRnd = new Random(cfg.seed() + 1);
        List<Point> curve = new ArrayList<>();
        double best = Double.POSITIVE_INFINITY;
        int bestStep = -1;
        double emaLoss = Double.NaN;
        int first = 1;
        double before = 0;   // seconds of earlier sessions of a resumed run
        if (from != null) {
            from.restore(w.params(), opt);
            TrainCheckpoint.Progress p = from.progress;
            rnd = p.batches();
            valRnd = p.validation();
            curve.addAll(p.curve());
            best = p.best();
            bestStep = p.bestStep();
            emaLoss = p.emaLoss();
            first = p.step() + 1;
            before = p.seconds();
            log.printf(Locale.ROOT, "resumed at step %d/%d (best full-forward val %.4f at step %d, %s trained so far)%n",
                    p.step(), cfg.steps(), best, bestStep, hms(before));
        }
        for (NDArray p : params) {
            p.setRequiresGradient(true);
        }
        long t0 = System.nanoTime() - (long) (before * 1e9);
        double calibrationStart = 0;
        int seq = cfg.model().seqLen();
        for (int step = first; step <= cfg.steps(); step++) {
            float lr = learningRate(step);
            double loss;
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                loss = trainStep(w, manager, batch(train, rnd, seq), lr, step);
            }
            emaLoss = Double.isNaN(emaLoss) ? loss : 0.95 * emaLoss + 0.05 * loss;
            double secs = (System.nanoTime() - t0) / 1e9;
            if (minutes > 0 && from == null && step == 10) {
                calibrationStart = secs;
            }
            if (minutes > 0 && from == null && step == 40) {
                // steady-state speed (steps 11..40, after JIT and allocator warm-up)
                double perStep = (secs - calibrationStart) / 30;
                int total = Math.max(41, (int) (40 + (minutes * 60 - secs) / perStep));
                cfg = cfg.withSteps(total);
                log.printf(Locale.ROOT, "time budget %.1f min at %.2f s/step: %d steps%n", minutes, perStep, total);
            }
            if (step % 10 == 0 || step == 1) {
                double tokPerSec = (double) (step - first + 1) * cfg.batch() * seq / (secs - before);
                log.printf(Locale.ROOT, "%s step %d/%d loss %.4f lr %.2e %.0f tok/s %s elapsed, ETA %s%n",
                        bar(step, cfg.steps()), step, cfg.steps(), emaLoss, lr, tokPerSec, hms(secs),
                        hms((secs - before) / (step - first + 1) * (cfg.steps() - step)));
            }
            if (step % cfg.evalEvery() == 0 || step == cfg.steps()) {
                double v = validate(w, manager, val, valRnd);
                curve.add(new Point(step, emaLoss, v, secs));
                boolean improved = v < best;
                if (improved) {
                    best = v;
                    bestStep = step;
                }
                log.printf(Locale.ROOT, "eval step %d train %.4f val %.4f (full forward)%s%n", step, emaLoss, v,
                        improved ? " best: checkpoint" : "");
                if (improved && onBest != null) {
                    withViews(w, () -> onBest.accept(w));
                }
                if (checkpoints != null) {
                    TrainCheckpoint.save(checkpoints, cfg, new TrainCheckpoint.Progress(step, opt.steps(), best, bestStep,
                            emaLoss, secs, curve, rnd, valRnd), w.params(), opt);
                }
            }
            if (step == stopAfter) {
                break;
            }
        }
        for (NDArray p : params) {
            p.setRequiresGradient(false);
        }
        w.derive();
        return new Result(w, curve, best, bestStep, (System.nanoTime() - t0) / 1e9);
    }

    private double trainStep(MoaWeights w, NDManager manager, long[][] xy, float lr, int step) {
        int b = cfg.batch();
        int seq = cfg.model().seqLen();
        NDArray x = manager.create(xy[0], new Shape(b, seq));
        NDArray y = manager.create(xy[1], new Shape(b, seq));
        if (cfg.dropout() > 0) {
            // the step's masks depend on the seed and the step only, so a resumed run draws them again
            Engine.getInstance().setRandomSeed((int) (cfg.seed() * 1_000_003L + step));
        }
        float loss;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            w.derive();
            NDArray logits = FullForward.logits(w, manager, x, null, true, Dropout.of(cfg.dropout()));
            NDArray l = crossEntropy(logits, y, cfg.model().numTokens());
            gc.backward(l);
            loss = l.getFloat();
        }
        update.apply(lr, cfg.clip());
        return loss;
    }

    /** Mean cross-entropy in nats: logits [B, N, V], targets [B, N]. */
    public static NDArray crossEntropy(NDArray logits, NDArray targets, int vocab) {
        NDArray logp = logits.logSoftmax(2);
        return Ops.times(logp.mul(targets.oneHot(vocab)).sum().neg(), 1f / targets.size());
    }

    /** Full-forward (leaky) validation loss on random batches; cheap, used for checkpoint choice. */
    private double validate(MoaWeights w, NDManager manager, int[] val, Random rnd) {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        double total = 0;
        try {
            for (int i = 0; i < cfg.evalBatches(); i++) {
                long[][] xy = batch(val, rnd, cfg.model().seqLen());
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    w.derive();
                    NDArray x = manager.create(xy[0], new Shape(cfg.batch(), cfg.model().seqLen()));
                    NDArray y = manager.create(xy[1], new Shape(cfg.batch(), cfg.model().seqLen()));
                    total += crossEntropy(FullForward.logits(w, manager, x, null, false), y,
                            cfg.model().numTokens()).getFloat();
                }
            }
        } finally {
            JniUtils.setGradMode(grad);
        }
        return total / cfg.evalBatches();
    }

    /** Runs an action with persistent derived views (they are rebuilt inside each step's scope). */
    private static void withViews(MoaWeights w, Runnable action) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            w.derive();
            action.run();
        }
    }

    private long[][] batch(int[] data, Random rnd, int seq) {
        long[] x = new long[cfg.batch() * seq];
        long[] y = new long[cfg.batch() * seq];
        for (int b = 0; b < cfg.batch(); b++) {
            int start = rnd.nextInt(data.length - seq - 1);
            for (int t = 0; t < seq; t++) {
                x[b * seq + t] = data[start + t];
                y[b * seq + t] = data[start + t + 1];
            }
        }
        return new long[][] {x, y};
    }

    float learningRate(int step) {
        return learningRate(cfg, step);
    }

    /** Linear warm-up to the peak, then cosine decay to the minimum at the run's last step. */
    static float learningRate(TrainConfig cfg, int step) {
        if (step <= cfg.warmup()) {
            return cfg.lr() * step / cfg.warmup();
        }
        double progress = (double) (step - cfg.warmup()) / Math.max(1, cfg.steps() - cfg.warmup());
        return (float) (cfg.minLr() + 0.5 * (1 + Math.cos(Math.PI * progress)) * (cfg.lr() - cfg.minLr()));
    }

    static String bar(int step, int total) {
        int width = 20;
        int filled = (int) ((long) step * width / total);
        return "[" + "#".repeat(filled) + ".".repeat(width - filled) + "]";
    }

    static String hms(double secs) {
        long s = (long) secs;
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }
}

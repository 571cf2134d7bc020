package dev.moaserve.train;

import dev.moaserve.model.ModelConfig;

/**
 * Hyper-parameters of one training run (the model's own shape is a {@link ModelConfig}).
 *
 * @param dropout residual dropout probability during training (0: none); inference never drops
 */
public record TrainConfig(
        ModelConfig model,
        int steps,
        int batch,
        float lr,
        float minLr,
        int warmup,
        float weightDecay,
        float clip,
        int evalEvery,
        int evalBatches,
        long seed,
        float dropout) {

    public TrainConfig {
        if (dropout < 0 || dropout >= 1) {
            throw new IllegalArgumentException("--dropout must lie in [0, 1), got " + dropout);
        }
    }

    /** A run without dropout. */
    public TrainConfig(ModelConfig model, int steps, int batch, float lr, float minLr, int warmup, float weightDecay,
                       float clip, int evalEvery, int evalBatches, long seed) {
        this(model, steps, batch, lr, minLr, warmup, weightDecay, clip, evalEvery, evalBatches, seed, 0f);
    }

    /** The same run with a schedule of {@code steps} steps (a time budget fixed, a resumed run re-planned). */
    public TrainConfig withSteps(int steps) {
        return new TrainConfig(model, steps, batch, lr, minLr, warmup, weightDecay, clip, evalEvery, evalBatches, seed,
                dropout);
    }
}

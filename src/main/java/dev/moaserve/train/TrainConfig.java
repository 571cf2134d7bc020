package dev.moaserve.train;

import dev.moaserve.model.ModelConfig;

/** Hyper-parameters of one training run (the model's own shape is a {@link ModelConfig}). */
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
        long seed) {
}

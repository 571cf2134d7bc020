package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Fresh parameters for a config, seeded and reproducible, following the reference modules'
 * PyTorch initialisation: embeddings, routing tokens, null tokens and null K/V ~ N(0, 1);
 * linear and 1×1-conv weights ~ U(±1/√fan_in) (kaiming-uniform with a = √5), biases likewise;
 * norm gains 1 and LayerNorm bias 0.
 */
public final class Init {
    private Init() {}

    public static MoaWeights random(ModelConfig c, NDManager manager, long seed) {
        return random(c, manager, seed, 0f);
    }

    /** @param gammaJitter standard deviation added to the norm gains (tests use it so gains matter) */
    public static MoaWeights random(ModelConfig c, NDManager manager, long seed, float gammaJitter) {
        return MoaWeights.of(c, manager, randomParams(MoaWeights.expectedShapes(c), c, manager, seed, gammaJitter));
    }

    /** A randomly initialised encoder (benchmarks, tests), initialised as the autoregressive model is. */
    public static EncoderWeights randomEncoder(EncoderConfig c, NDManager manager, long seed) {
        return EncoderWeights.of(c, manager, randomParams(EncoderWeights.expectedShapes(c), c.shape(), manager, seed, 0f));
    }

    private static Map<String, NDArray> randomParams(Map<String, long[]> shapes, ModelConfig c, NDManager manager, long seed,
                                                     float gammaJitter) {
        Random rnd = new Random(seed);
        Map<String, NDArray> params = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            String name = e.getKey();
            long[] shape = e.getValue();
            float[] data = new float[(int) new Shape(shape).size()];
            if (name.endsWith("gamma") || name.endsWith("norm.weight")) {
                for (int i = 0; i < data.length; i++) {
                    data[i] = 1f + gammaJitter * (float) rnd.nextGaussian();
                }
            } else if (name.endsWith("norm.bias")) {
                // zeros
            } else if (name.endsWith("emb.weight") || name.endsWith("routing_token") || name.endsWith("null_tokens")
                    || name.endsWith("null_routed_token") || name.endsWith("null_kv")) {
                for (int i = 0; i < data.length; i++) {
                    data[i] = (float) rnd.nextGaussian();
                }
            } else {
                long fanIn = name.endsWith(".bias") ? biasFanIn(c, name) : shape[1] * (shape.length > 2 ? shape[2] : 1);
                float bound = (float) (1.0 / Math.sqrt(fanIn));
                for (int i = 0; i < data.length; i++) {
                    data[i] = (rnd.nextFloat() * 2 - 1) * bound;
                }
            }
            NDArray a = manager.create(data, new Shape(shape));
            a.setName(name);
            params.put(name, a);
        }
        return params;
    }

    private static long biasFanIn(ModelConfig c, String name) {
        if (name.endsWith("1.1.bias") || name.endsWith("to_logits.1.bias")) {
            return c.dim();
        }
        return name.endsWith("3.bias") ? c.ffDim() : c.dim();
    }
}

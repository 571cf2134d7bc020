package dev.moaserve.decode;

import ai.djl.ndarray.NDManager;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaWeights;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which steps multiply by the weights in parts (docs/decoding.md, "Matmuls in parts"): from 8 new
 * tokens for any model, from one for a model whose matmul weights stream from memory (≥ 32 MiB),
 * never from {@link ScriptedStep#PARTS_BELOW_TOKENS}; off when asked (bench's comparison).
 */
class MatmulPartsPolicyTest {
    private static ModelConfig config(int dim, int depth) {
        return ModelConfig.builder().vocab(64).dim(dim).depth(depth).seqLen(64).localWindow(8).routedWindow(4)
                .routedQueries(4).routedKeyValues(4).experts(2).dimHead(dim / 8).heads(8).ffMult(4).build();
    }

    @Test
    void oneRowStepsRunInPartsOnlyWhereTheWeightsStreamFromMemory() {
        try (NDManager m = Djl.newManager()) {
            MoaWeights small = Init.random(config(64, 2), m, 1);  // ~0.4 MB of matmul weights
            MoaWeights large = Init.random(config(512, 2), m, 1); // ~42 MB
            try (IncrementalDecoder s = new IncrementalDecoder(small); IncrementalDecoder l = new IncrementalDecoder(large)) {
                // two parts whatever this JVM's intra-op threads (a machine of one core has none: splitMatmuls(1))
                s.splitMatmuls(2);
                l.splitMatmuls(2);
                assertFalse(s.matmulPartsAt(1));
                assertFalse(s.matmulPartsAt(IncrementalDecoder.PARALLEL_FROM_TOKENS - 1));
                assertTrue(s.matmulPartsAt(IncrementalDecoder.PARALLEL_FROM_TOKENS));
                assertTrue(l.matmulPartsAt(1));
                assertFalse(s.matmulPartsAt(ScriptedStep.PARTS_BELOW_TOKENS));
                assertFalse(l.matmulPartsAt(ScriptedStep.PARTS_BELOW_TOKENS));
                l.useMatmulParts(false);
                assertFalse(l.matmulPartsAt(1) || l.matmulPartsAt(IncrementalDecoder.PARALLEL_FROM_TOKENS));
                l.useMatmulParts(true);
                assertTrue(l.matmulPartsAt(1));
                l.splitMatmuls(1);
                assertFalse(l.matmulPartsAt(1) || l.matmulPartsAt(IncrementalDecoder.PARALLEL_FROM_TOKENS), "one core: no parts");
            }
        }
    }
}

package dev.moaserve.decode;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaWeights;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The step program compiled on a thread of its own beside the weights' load, then taken by the decoder. */
class StepProgramTest {
    private static final ModelConfig CONFIG =
            ModelConfig.builder().vocab(19).dim(16).depth(2).seqLen(64).localWindow(6).routedWindow(8)
                    .routedQueries(3).routedKeyValues(5).experts(2).dimHead(4).heads(2).ffMult(2).build();

    @Test
    void aDecoderWithAProgramCompiledBesideItDecodesAsOneThatCompiledItsOwn() {
        StepProgram program = StepProgram.begin(CONFIG, DataType.FLOAT32, Device.cpu());
        try (NDManager m = Djl.newManager()) {
            MoaWeights w = Init.random(CONFIG, m, 3, 0.1f);
            try (IncrementalDecoder own = new IncrementalDecoder(w, 2, IncrementalDecoder.Recompute.LAZY, DataType.FLOAT32);
                 IncrementalDecoder given = new IncrementalDecoder(w, 2, IncrementalDecoder.Recompute.LAZY, DataType.FLOAT32, program)) {
                long[] prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
                try (DecodeState a = own.newState(); DecodeState b = given.newState()) {
                    assertArrayEquals(own.prefill(a, prompt), given.prefill(b, prompt));
                    for (long token = 3; token < 15; token++) {
                        assertArrayEquals(own.decode(List.of(a), new long[] {token})[0], given.decode(List.of(b), new long[] {token})[0]);
                    }
                }
            }
        }
    }

    @Test
    void aProgramCompiledForAnotherPrecisionIsRefusedAndTakenOnce() {
        StepProgram half = StepProgram.begin(CONFIG, DataType.FLOAT16, Device.cpu());
        try (NDManager m = Djl.newManager()) {
            MoaWeights w = Init.random(CONFIG, m, 3, 0.1f);
            assertThrows(IllegalArgumentException.class,
                    () -> new IncrementalDecoder(w, 1, IncrementalDecoder.Recompute.LAZY, DataType.FLOAT32, half).close());
            assertThrows(IllegalStateException.class,
                    () -> new IncrementalDecoder(w, 1, IncrementalDecoder.Recompute.LAZY, DataType.FLOAT16, half).close());
            half.discard(); // taken already: nothing to free twice
        }
    }
}

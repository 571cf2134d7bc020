package dev.moaserve.bench;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The operations a step runs, counted from libtorch's profiler: only the top-level ones, by kind. */
class OpProfileTest {
    /** An operation inside another (a slice's as_strided) is its caller's; threads are apart; per call. */
    @Test
    void countsTopLevelOperationsByKindPerCall() throws Exception {
        String trace = "{\"traceEvents\": ["
                + "{\"ph\": \"X\", \"name\": \"aten::linear\", \"tid\": 1, \"ts\": 0, \"dur\": 10},"
                + "{\"ph\": \"X\", \"name\": \"aten::addmm\", \"tid\": 1, \"ts\": 1, \"dur\": 8},"
                + "{\"ph\": \"X\", \"name\": \"aten::slice\", \"tid\": 1, \"ts\": 10, \"dur\": 2},"
                + "{\"ph\": \"X\", \"name\": \"aten::as_strided\", \"tid\": 1, \"ts\": 10, \"dur\": 1},"
                + "{\"ph\": \"X\", \"name\": \"aten::add_\", \"tid\": 1, \"ts\": 13, \"dur\": 1},"
                + "{\"ph\": \"X\", \"name\": \"aten::topk\", \"tid\": 2, \"ts\": 1, \"dur\": 5},"
                + "{\"ph\": \"X\", \"name\": \"aten::layer_norm\", \"tid\": 2, \"ts\": 7, \"dur\": 1},"
                + "{\"ph\": \"i\", \"name\": \"aten::mul\", \"tid\": 1, \"ts\": 20},"
                + "{\"ph\": \"X\", \"name\": \"forward\", \"tid\": 1, \"ts\": 0, \"dur\": 30}]}";
        OpProfile.Counts c = OpProfile.count(new ObjectMapper().readTree(trace), 2);
        assertEquals(2.5, c.total(), 1e-9, c.line());
        assertEquals(0.5, c.perCall().get(OpProfile.Kind.MATMUL), 1e-9);
        assertEquals(0.5, c.perCall().get(OpProfile.Kind.INDEXING), 1e-9);
        assertEquals(0.5, c.perCall().get(OpProfile.Kind.ELEMENTWISE), 1e-9);
        assertEquals(0.5, c.perCall().get(OpProfile.Kind.SORT_TOPK), 1e-9);
        assertEquals(0.5, c.perCall().get(OpProfile.Kind.REDUCTION), 1e-9);
    }

    /** libtorch's real profiler over a real step of the program: matmuls and the rest are seen, and the same count each call. */
    @Test
    void profilesARealStep() throws Exception {
        ModelConfig c = ModelConfig.builder().vocab(13).dim(16).depth(2).seqLen(64).localWindow(4).routedWindow(4)
                .routedQueries(2).routedKeyValues(3).experts(2).dimHead(4).heads(2).ffMult(2).build();
        Djl.inferenceThread();
        try (NDManager m = Djl.newManager(); IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 5))) {
            DecodeState s = dec.newState();
            dec.prefill(s, new long[] {1, 2, 3});
            OpProfile.Counts one = OpProfile.profile(() -> dec.decode(List.of(s), new long[] {4}), 1);
            OpProfile.Counts three = OpProfile.profile(() -> dec.decode(List.of(s), new long[] {4}), 3);
            assertTrue(one.perCall().getOrDefault(OpProfile.Kind.MATMUL, 0.0) >= 2 * c.depth(), one.line());
            assertTrue(one.total() > 50, one.line());
            assertEquals(one.total(), three.total(), 0.34 * one.total(), one.line() + " / " + three.line());
            s.close();
        }
    }
}

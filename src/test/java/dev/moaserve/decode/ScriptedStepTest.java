package dev.moaserve.decode;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaWeights;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The archive the server writes for its step program, and what happens when the program is broken. */
class ScriptedStepTest {
    private static final ModelConfig CONFIG =
            ModelConfig.builder().vocab(19).dim(16).depth(2).seqLen(64).localWindow(6).routedWindow(8)
                    .routedQueries(3).routedKeyValues(5).experts(2).dimHead(4).heads(2).ffMult(2).build();

    @Test
    void attributesWrittenIntoTheArchiveReachTheProgram() throws Exception {
        String source = """
                class Probe(Module):
                  __parameters__ = []
                  __buffers__ = []
                  training : bool
                  n : int
                  big : int
                  x : float
                  flag : bool
                  def values(self: __torch__.Probe) -> List[float]:
                    return [float(self.n), float(self.big), self.x, float(self.flag), float(self.training)]
                """;
        byte[] archive = new ScriptArchive("Probe", source)
                .with("n", -7).with("big", 1 << 30).with("x", -1e30).with("flag", true).bytes();
        try (NDManager m = Djl.newManager();
             PtSymbolBlock module = JniUtils.loadModule((PtNDManager) m, new ByteArrayInputStream(archive), true, false);
             IValue out = IValueUtils.runMethod(module, "values")) {
            assertArrayEquals(new double[] {-7, 1 << 30, -1e30, 1, 0}, out.toDoubleArray());
        }
    }

    @Test
    void aProgramThatDoesNotCompileFailsInOneLineNamingItsLine() {
        String broken = ScriptedStep.source()
                .replace("torch.layer_norm(x, [self.dim]", "torch.layer_norm(x, self.dim");
        try (NDManager m = Djl.newManager()) {
            MoaWeights w = Init.random(CONFIG, m, 1, 0.1f);
            DecodeWeights dw = new DecodeWeights(w, m, DataType.FLOAT32);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> new ScriptedStep(CONFIG, dw, m, broken));
            System.out.println(e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line");
            assertTrue(e.getMessage().startsWith("the decode step program does not compile"), e.getMessage());
            assertTrue(e.getMessage().matches(".*line \\d+.*layer_norm.*"), "names the line and the call: " + e.getMessage());
        }
    }

    @Test
    void theShippedProgramCompilesForEveryRoutingVariant() {
        for (boolean cosine : new boolean[] {true, false}) {
            ModelConfig c = ModelConfig.builder().vocab(19).dim(16).depth(1).seqLen(64).localWindow(6).routedWindow(8)
                    .routedQueries(8).routedKeyValues(5).experts(1).dimHead(4).heads(2).ffMult(2).cosineRouting(cosine).build();
            try (NDManager m = Djl.newManager();
                 IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 2, 0.1f))) {
                DecodeState s = dec.newState();
                assertEquals(c.numTokens(), dec.prefill(s, new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}).length);
                s.close();
            }
        }
    }
}

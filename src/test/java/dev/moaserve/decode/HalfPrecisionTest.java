package dev.moaserve.decode;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.moaserve.SharedData;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.Numerics;
import dev.moaserve.model.ReferenceVectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * float16 matmuls (norms, softmax and routing in float32) against float32. Documented tolerance:
 * logits within {@link #TOL} of float32 and of the full forward, greedy tokens the same on the
 * reference cases.
 */
class HalfPrecisionTest {
    static final double TOL = 0.01;   // measured: 1.1e-3 (tiny), 9.3e-4 (wide), 1.1e-3 (random configs)

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "wide"})
    void halfPrecisionFollowsFloat32OnTheReferenceCases(String name) {
        double[] r = versusFloat32(name, DataType.FLOAT16);
        assertTrue(r[0] <= TOL, "max abs " + r[0]);
        assertTrue(r[1] == r[2], "greedy agreement " + r[1] + "/" + r[2]);
    }

    /**
     * bfloat16 matmuls (cast inside the step program; the state stays float32): three fewer
     * mantissa bits than float16, so coarser (measured 7.3e-3 / 7.5e-3), within
     * {@link dev.moaserve.cli.VerifyCommand#BFLOAT16_TOLERANCE}; a greedy token may flip at a near-tie.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny", "wide"})
    void bfloat16FollowsFloat32OnTheReferenceCases(String name) {
        double[] r = versusFloat32(name, DataType.BFLOAT16);
        assertTrue(r[0] <= dev.moaserve.cli.VerifyCommand.BFLOAT16_TOLERANCE, "max abs " + r[0]);
        assertTrue(r[0] > 2e-3, "as close as float16: not run in bfloat16? " + r[0]);
        assertTrue(r[1] >= r[2] - 1, "greedy agreement " + r[1] + "/" + r[2]);
    }

    /** Teacher-forced decoding of a reference case in float32 and in {@code dtype}: {max abs logits, greedy agreements, steps}. */
    private static double[] versusFloat32(String name, DataType dtype) {
        Path dir = SharedData.require("reference/" + name);
        ReferenceVectors ref = ReferenceVectors.load(dir.resolve("vectors.safetensors"));
        try (MoaModel model = MoaModel.load(dir);
             IncrementalDecoder f32 = new IncrementalDecoder(model.weights(), 1, IncrementalDecoder.Recompute.LAZY);
             IncrementalDecoder f16 = new IncrementalDecoder(model.weights(), 1, IncrementalDecoder.Recompute.LAZY, dtype);
             DecodeState a = f32.newState();
             DecodeState b = f16.newState()) {
            int v = model.config().numTokens();
            float[] x = f32.prefill(a, ref.prompt());
            float[] y = f16.prefill(b, ref.prompt());
            double worst = 0;
            int agree = 0;
            int n = ref.greedy().length;
            for (int t = 0; t < n; t++) {
                worst = Math.max(worst, Numerics.maxAbsDiff(x, y, 0));
                if (Numerics.argmax(x, 0, v) == Numerics.argmax(y, 0, v)) {
                    agree++;
                }
                long next = ref.greedy()[t];
                x = f32.decode(List.of(a), new long[] {next})[0];
                y = f16.decode(List.of(b), new long[] {next})[0];
            }
            System.out.printf("%s %s vs float32: max_abs_logits=%.3g greedy_agree=%d/%d%n", name, dtype, worst, agree, n);
            return new double[] {worst, agree, n};
        }
    }

    /** The whole decode property test in float16: every step against the float32 full forward. */
    @Test
    void everyStepInFloat16StaysNearTheFullForward() {
        Random rnd = new Random(42);
        double worstAll = 0;
        for (int trial = 0; trial < 6; trial++) {
            int w = 2 + rnd.nextInt(6);
            int kq = switch (trial % 3) {
                case 0 -> 1 + rnd.nextInt(w - 1);
                case 1 -> w;
                default -> w + 1;
            };
            int len = 5 * w + rnd.nextInt(w);
            ModelConfig c = ModelConfig.builder().vocab(17).dim(16).depth(2).seqLen(len + 2).localWindow(1 + rnd.nextInt(9))
                    .routedWindow(w).routedQueries(kq).routedKeyValues(1 + rnd.nextInt(3 * w))
                    .experts(1 + rnd.nextInt(3)).dimHead(4).heads(2).ffMult(2).build();
            try (NDManager m = Djl.newManager()) {
                MoaModel model = MoaModel.of("random", Init.random(c, m, 7 + trial, 0.1f), null, null);
                try (IncrementalDecoder dec = new IncrementalDecoder(model.weights(), 1,
                        IncrementalDecoder.Recompute.LAZY, DataType.FLOAT16);
                     DecodeState st = dec.newState()) {
                    long[] seq = new long[len];
                    for (int i = 0; i < len; i++) {
                        seq[i] = rnd.nextInt(c.numTokens());
                    }
                    int prompt = 1 + rnd.nextInt(2 * w);
                    float[] logits = dec.prefill(st, Arrays.copyOf(seq, prompt));
                    for (int t = prompt; ; t++) {
                        double diff = Numerics.maxAbsDiff(model.nextTokenLogits(Arrays.copyOf(seq, t)), logits, 0);
                        worstAll = Math.max(worstAll, diff);
                        assertTrue(diff <= TOL, c + " prefix " + t + ": max abs " + diff);
                        if (t == len) {
                            break;
                        }
                        logits = dec.decode(List.of(st), new long[] {seq[t]})[0];
                    }
                }
            }
        }
        System.out.printf("float16 decode vs float32 full forward, random configs: max abs %.3g%n", worstAll);
    }
}

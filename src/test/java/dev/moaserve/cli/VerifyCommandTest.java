package dev.moaserve.cli;

import dev.moaserve.SharedData;
import dev.moaserve.model.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VerifyCommandTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        String[] line = new String[args.length + 1];
        line[0] = "verify";
        System.arraycopy(args, 0, line, 1, args.length);
        return Cli.execute(() -> { throw new AssertionError("verify must not serve"); },
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), line);
    }

    @Test
    void passesOnTheReferenceAndPrintsOneLine() {
        Path tiny = SharedData.require("reference/tiny");
        int code = run(tiny.toString(), tiny.resolve("vectors.safetensors").toString());
        String line = out.toString(StandardCharsets.UTF_8).trim();
        assertEquals(0, code, line + err);
        assertTrue(line.matches("max_abs_logits=\\S+ max_abs_hidden=\\S+ greedy_match=60/60 incremental_greedy_match=60/60 max_abs_greedy_logits=\\S+"), line);
    }

    /** Vectors that differ from what the model computes fail with exit code 1, the line still printed. */
    @Test
    void failsWhenTheModelDisagrees(@TempDir Path dir) throws IOException {
        Path tiny = SharedData.require("reference/tiny");
        Safetensors st = Safetensors.open(tiny.resolve("vectors.safetensors"));
        List<Safetensors.Tensor> tensors = new ArrayList<>();
        for (Safetensors.Entry e : st.entries().values()) {
            if (e.dtype() == Safetensors.DType.I64) {
                tensors.add(Safetensors.Tensor.i64(e.name(), e.shape(), st.longs(e.name())));
            } else {
                FloatBuffer fb = st.floats(e.name());
                float[] data = new float[fb.remaining()];
                fb.get(data);
                if (e.name().equals("logits")) {
                    data[7] += 1e-3f;
                }
                tensors.add(Safetensors.Tensor.f32(e.name(), e.shape(), data));
            }
        }
        Safetensors.write(dir.resolve("v.safetensors"), tensors, null);
        int code = run(tiny.toString(), dir.resolve("v.safetensors").toString());
        assertEquals(1, code, err.toString(StandardCharsets.UTF_8));
        assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("max_abs_logits=0.00100"), out.toString());
    }

    @Test
    void vectorsOfAnotherModelShapeAreAClearError() {
        Path tiny = SharedData.require("reference/tiny");
        Path wide = SharedData.require("reference/wide");
        assertEquals(2, run(tiny.toString(), wide.resolve("vectors.safetensors").toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("vectors do not fit this model"));
    }

    @Test
    void usageAndMissingFilesGiveExitCode2() {
        assertEquals(2, run());
        assertEquals(2, run("no/such/dir", "x.safetensors"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("not found"));
    }

    /** The incremental decoder in float16: within the half tolerance, every greedy token the same. */
    @Test
    void halfPrecisionDecoderPassesWithinItsTolerance() {
        Path tiny = SharedData.require("reference/tiny");
        int code = run("--dtype", "float16", tiny.toString(), tiny.resolve("vectors.safetensors").toString());
        String line = out.toString(StandardCharsets.UTF_8).trim();
        assertEquals(0, code, line + err);
        assertTrue(line.contains("incremental_greedy_match=60/60"), line);
        double greedyLogits = Double.parseDouble(line.replaceAll(".*max_abs_greedy_logits=(\\S+).*", "$1"));
        assertTrue(greedyLogits > 1e-5 && greedyLogits <= VerifyCommand.HALF_TOLERANCE, "not run in half precision? " + line);
    }

    @Test
    void anUnavailableDeviceIsAOneLineError() {
        Path tiny = SharedData.require("reference/tiny");
        String vectors = tiny.resolve("vectors.safetensors").toString();
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.moaserve.model.Djl.engine().getGpuCount() == 0, "a GPU is present");
        assertEquals(2, run("--device", "cuda", tiny.toString(), vectors));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("verify: moa.device=cuda asks for CUDA device 0 but DJL found no GPU"),
                err.toString(StandardCharsets.UTF_8));
    }

    /**
     * bfloat16 matmuls (weights cast inside the step program): within their tolerance, and a
     * greedy token may differ only at one of the reference's near-ties.
     */
    @Test
    void bfloat16DecoderPassesWithinItsTolerance() {
        Path tiny = SharedData.require("reference/tiny");
        int code = run("--dtype", "bfloat16", tiny.toString(), tiny.resolve("vectors.safetensors").toString());
        String line = out.toString(StandardCharsets.UTF_8).trim();
        assertEquals(0, code, line + err);
        double greedyLogits = Double.parseDouble(line.replaceAll(".*max_abs_greedy_logits=(\\S+).*", "$1"));
        // coarser than float16 (~1e-3 here), so it did run in bfloat16
        assertTrue(greedyLogits > 2e-3 && greedyLogits <= VerifyCommand.BFLOAT16_TOLERANCE, "not run in bfloat16? " + line);
    }
}

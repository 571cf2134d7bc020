package dev.moaserve.cli;

import dev.moaserve.SharedData;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * docs/bring-your-own-model.md as written: train a small model with the PyTorch reference, export
 * it with docs/byom/export_moa.py, then {@code verify} it. Needs a Python with torch (e.g. Debian's
 * python3-torch; {@code MOA_TORCH_PYTHON} names another) and the reference kit in ../shared; skipped
 * with a message where either is missing (CI machines have no torch).
 */
class BringYourOwnModelTest {
    @Test
    void trainExportVerify(@TempDir Path dir) throws Exception {
        String python = torchPython();
        Assumptions.assumeTrue(python != null, "skipped: no python with torch (set MOA_TORCH_PYTHON)");
        Path reference = SharedData.require("reference/make_reference.py").getParent();
        Path text = SharedData.require("data/tinyshakespeare.txt");
        String pythonPath = reference.resolve("src") + java.io.File.pathSeparator + reference;
        Path ckpt = dir.resolve("checkpoint.pt");
        Path model = dir.resolve("model");
        String trained = python(python, pythonPath, "docs/byom/train_reference.py", "--text", text.toString(),
                "--steps", "20", "--out", ckpt.toString());
        assertTrue(trained.contains("saved " + ckpt), trained);
        String exported = python(python, pythonPath, "docs/byom/export_moa.py", ckpt.toString(), model.toString());
        assertTrue(exported.contains("vectors.safetensors"), exported);
        for (String f : List.of("config.json", "model.safetensors", "vocab.json", "vectors.safetensors")) {
            assertTrue(Files.exists(model.resolve(f)), f);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Cli.execute(() -> { }, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                "verify", model.toString(), model.resolve("vectors.safetensors").toString());
        String line = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, line + err);
        assertTrue(line.contains("greedy_match=60/60 incremental_greedy_match=60/60"), line);
    }

    private static String python(String python, String pythonPath, String... args) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>(List.of(python));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("PYTHONPATH", pythonPath);
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), String.join(" ", args));
        assertEquals(0, p.exitValue(), String.join(" ", args) + ":\n" + output);
        return output;
    }

    /** A python that imports torch: $MOA_TORCH_PYTHON, else Debian's /usr/bin/python3, else python3. */
    private static String torchPython() {
        String env = System.getenv("MOA_TORCH_PYTHON");
        for (String candidate : env != null ? List.of(env) : List.of("/usr/bin/python3", "python3")) {
            try {
                Process p = new ProcessBuilder(candidate, "-c", "import torch").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return candidate;
                }
            } catch (IOException | InterruptedException e) {
                // try the next one
            }
        }
        return null;
    }
}

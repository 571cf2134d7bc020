package dev.moaserve.bench;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bench --step-source}: the changed program is the one it runs beside the shipped one (a
 * program whose logits are negated samples other tokens; a directory without files is the shipped
 * program again, the same tokens), with its line per batch size.
 */
class StepSourceBenchTest {
    @Test
    void runsTheChangedProgramBesideTheShippedOne(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path same = Files.createDirectory(dir.resolve("same"));
        String line = run(same);
        assertTrue(line.matches("step_source batch=8 steps=16 rounds=3 shipped_ms=[0-9.]+ source_ms=[0-9.]+ shipped_min_ms=[0-9.]+ "
                + "source_min_ms=[0-9.]+ speedup=[0-9.]+ same_tokens=true\\n"), line);

        Path changed = Files.createDirectory(dir.resolve("changed"));
        String shipped = new String(StepSourceBenchTest.class.getResourceAsStream("/dev/moaserve/decode/decode_step.py").readAllBytes(),
                StandardCharsets.UTF_8);
        String marker = "    return logits                                                              # [S, V]";
        assertTrue(shipped.contains(marker), "the step's return, to change");
        Files.writeString(changed.resolve("decode_step.py"), shipped.replace(marker, "    return torch.neg(logits)"));
        assertTrue(run(changed).contains(" same_tokens=false"));

        assertThrows(IllegalArgumentException.class, () -> run(dir.resolve("absent")));
    }

    private static String run(Path dir) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        assertEquals(0, StepSourceBench.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), dir, new int[] {8}, true));
        return bytes.toString(StandardCharsets.UTF_8);
    }
}

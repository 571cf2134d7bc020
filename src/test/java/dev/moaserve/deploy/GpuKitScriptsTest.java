package dev.moaserve.deploy;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPU check kit's scripts parse, and what check.sh reads from the working tree exists. (The
 * kit itself is dry-run on CPU by hand: it needs PyTorch, which the test machines lack.)
 */
class GpuKitScriptsTest {
    @Test
    void scriptsParseAndPointAtExistingFiles() throws Exception {
        for (String script : new String[] {"gpu/make-kit.sh", "gpu/check.sh"}) {
            Path p = Path.of(script);
            assertTrue(Files.isExecutable(p), script + " is not executable");
            Process bash = new ProcessBuilder("bash", "-n", script).redirectErrorStream(true).start();
            String out = new String(bash.getInputStream().readAllBytes());
            assertEquals(0, bash.waitFor(), script + ": " + out);
        }
        String check = Files.readString(Path.of("gpu/check.sh"));
        Matcher cases = Pattern.compile("for case in ([a-z ]+); do").matcher(check);
        assertTrue(cases.find(), "check.sh names the reference cases it verifies");
        for (String c : cases.group(1).trim().split(" ")) {
            assertTrue(Files.exists(Path.of("src/test/resources/reference", c, "vectors.safetensors")), c);
        }
        // the commands and options the check runs exist in the CLI (their names are a contract)
        for (String option : new String[] {"verify --device", "--dtype", "bench --device", "--batches"}) {
            assertTrue(check.contains(option), option);
        }
        assertTrue(check.contains("^device_decode config=moa-shakespeare"), "check.sh parses bench's device_decode lines");
    }
}

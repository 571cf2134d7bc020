package dev.moaserve.api;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The packaged jar's command line as a user types it: help never serves, usage errors exit 2. */
class PackagedCliIT {
    private static String run(int expectedExit, String... args) throws Exception {
        try (PackagedApp app = PackagedApp.launch(Map.of(), args)) {
            int exit = app.awaitExit(Duration.ofMinutes(2));
            String out = app.output();
            assertEquals(expectedExit, exit, String.join(" ", args) + ":\n" + out);
            assertFalse(out.contains("Listening on"), "'" + String.join(" ", args) + "' started the server:\n" + out);
            return out;
        }
    }

    @Test
    void helpAndUsageErrors() throws Exception {
        String help = run(0, "--help");
        assertTrue(help.contains("Usage: moa-serve") && help.contains("train") && help.contains("verify"), help);
        assertTrue(run(0, "train", "--help").contains("--eval-tokens"));
        String unknown = run(2, "eval", "--text", "t.txt", "--form", "0.99");
        assertTrue(unknown.contains("Unknown options: '--form'") && unknown.contains("Usage: moa-serve eval"), unknown);
        assertTrue(run(2, "no-such-command").contains("Unmatched argument"));
    }

    @Test
    void verifyRunsFromThePackagedJar() throws Exception {
        String tiny = java.nio.file.Path.of("src/test/resources/reference/tiny").toAbsolutePath().toString();
        String out = run(0, "verify", tiny, tiny + "/vectors.safetensors");
        assertTrue(out.contains("greedy_match=60/60 incremental_greedy_match=60/60"), out);
    }
}

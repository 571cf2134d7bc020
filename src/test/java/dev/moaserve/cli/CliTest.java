package dev.moaserve.cli;

import dev.moaserve.testing.EmbeddedModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line: help for every command, usage errors exit 2, only no command or {@code serve} serves. */
class CliTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final AtomicInteger served = new AtomicInteger();

    private int run(String... args) {
        return Cli.execute(served::incrementAndGet, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), args);
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void noCommandAndServeServe() {
        assertEquals(0, run());
        assertEquals(0, run("serve"));
        assertEquals(2, served.get());
    }

    @Test
    void topLevelHelpListsTheCommandsAndDoesNotServe() {
        assertEquals(0, run("--help"));
        assertEquals(0, served.get());
        for (String c : new String[] {"serve", "verify", "eval", "train", "bench", "loadgen", "plot", "warmup"}) {
            assertTrue(out().contains("  " + c + " "), c + " missing from:\n" + out());
        }
        assertEquals(0, run("--version"));
        assertTrue(out().matches("(?s).*moa-serve \\d+\\.\\d+\\.\\d+\\S*\\R.*"), out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"serve", "verify", "eval", "train", "bench", "loadgen", "plot", "warmup"})
    void everyCommandHasHelp(String command) {
        assertEquals(0, run(command, "--help"), err());
        assertEquals(0, served.get());
        assertTrue(out().startsWith("Usage: moa-serve " + command), out());
        assertTrue(out().contains("-h, --help"), out());
    }

    @Test
    void unknownOptionsAreUsageErrors() {
        assertEquals(2, run("eval", "--text", "t.txt", "--form", "0.99"));
        assertTrue(err().contains("Unknown options: '--form'"), err());
        assertTrue(err().contains("Usage: moa-serve eval"), err());
        assertEquals(2, run("--port", "8081"));
        assertEquals(0, served.get(), "an unknown top-level option must not serve");
    }

    @Test
    void unknownCommandsMalformedAndMissingValuesAreUsageErrors() {
        assertEquals(2, run("frobnicate"));
        assertTrue(err().contains("Unmatched argument at index 0: 'frobnicate'"), err());
        assertEquals(2, run("train", "--text", "t.txt", "--out", "o", "--steps", "many"));
        assertTrue(err().contains("Invalid value for option '--steps'"), err());
        assertEquals(2, run("train", "--text"));
        assertTrue(err().contains("Missing required parameter for option '--text'"), err());
        assertEquals(2, run("train", "--out", "o"));
        assertTrue(err().contains("Missing required option: '--text=FILE'"), err());
        assertEquals(2, run("verify", "only-one"));
        assertEquals(0, served.get());
    }

    @Test
    void dropoutIsRefusedWhereItWouldBeIgnoredOrOutOfRange(@TempDir Path dir) throws Exception {
        Path text = dir.resolve("t.txt");
        Files.writeString(text, "To be, or not to be.\n".repeat(40));
        String out = dir.resolve("m").toString();
        assertEquals(2, run("train", "--text", text.toString(), "--out", out, "--encoder", "--dropout", "0.1"));
        assertTrue(err().contains("--dropout is for the autoregressive trainer"), err());
        assertEquals(2, run("train", "--text", text.toString(), "--out", out, "--dropout", "1"));
        assertTrue(err().contains("--dropout must lie in [0, 1)"), err());
    }

    /** A tiny run writes the best checkpoint and, beside it, the last step's weights: both load and evaluate. */
    @Test
    void trainWritesTheBestAndTheLastWeights(@TempDir Path dir) throws Exception {
        Path text = dir.resolve("t.txt");
        Files.writeString(text, "To be, or not to be, that is the question.\n".repeat(40));
        Path model = dir.resolve("m");
        assertEquals(0, run("train", "--text", text.toString(), "--out", model.toString(), "--steps", "4", "--eval-every", "2",
                "--eval-batches", "1", "--eval-tokens", "0", "--dim", "16", "--heads", "2", "--dim-head", "8", "--depth", "1",
                "--seq-len", "32", "--window", "8", "--routed-queries", "4", "--routed-kv", "4", "--batch", "2"), err());
        assertTrue(out().contains("last weights (step 4): " + model.resolve("last")), out());
        for (Path m : new Path[] {model, model.resolve("last")}) {
            out.reset();
            assertEquals(0, run("eval", "--model", m.toString(), "--text", text.toString()), err());
            assertTrue(out().matches("(?s)loss=\\d+\\.\\d+ tokens=\\d+ .*"), m + ": " + out());
        }
    }

    /** Bad input found while running (not by the parser): one line naming the command, exit 2, no trace. */
    @Test
    void badInputIsOneLine(@TempDir Path dir) throws Exception {
        assertEquals(2, run("eval", "--text", dir.resolve("missing.txt").toString()));
        assertTrue(err().startsWith("eval: text file not found: "), err());
        assertFalse(err().contains("\tat "), err());
        err.reset();
        Files.writeString(dir.resolve("t.txt"), "hello");
        assertEquals(2, run("eval", "--text", dir.resolve("t.txt").toString(), "--from", "1.5"));
        assertTrue(err().startsWith("eval: --from must be in [0, 1), got 1.5"), err());
        err.reset();
        assertEquals(2, run("eval", "--text", dir.resolve("t.txt").toString(), "--eval-tokens", "lots"));
        assertTrue(err().startsWith("eval: --eval-tokens must be a token count or 'all', got 'lots'"), err());
        err.reset();
        assertEquals(2, run("loadgen", "--url", "http://example.com"));
        assertTrue(err().startsWith("loadgen: loadgen targets loopback only"), err());
        err.reset();
        assertEquals(1, run("plot", "--out", dir.resolve("a.svg").toString(), "--csv", dir.resolve("none.csv").toString()));
        assertTrue(err().startsWith("plot: no such file: "), err());
    }

    /** {@code eval --eval-tokens} bounds the work to whole blocks and reports progress on stderr. */
    @Test
    void evalIsBoundedAndShowsProgress(@TempDir Path dir) throws Exception {
        String text = "First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. ".repeat(40);
        Files.writeString(dir.resolve("t.txt"), text);
        int block = EmbeddedModel.CONTEXT;
        assertEquals(0, run("eval", "--text", dir.resolve("t.txt").toString(), "--from", "0", "--eval-tokens",
                String.valueOf(block + 44)), err());
        // a little more than one context → one whole block of the embedded model
        assertTrue(out().matches("loss=\\d+\\.\\d{4} tokens=" + block + " full_forward_loss=\\d+\\.\\d{4}\\R"), out());
        assertTrue(err().contains("on " + block + " tokens of"), err());
        assertTrue(err().contains("generation loss: " + block + "/" + block + " tokens (100.0 %)"), err());
        assertTrue(err().contains("full-forward loss: " + block + "/" + block + " tokens (100.0 %)"), err());
    }
}

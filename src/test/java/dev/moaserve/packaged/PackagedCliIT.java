package dev.moaserve.packaged;

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
    void evalReportsTheFrozenDecodingLossBesideTheExactOne(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        // the embedded model's own characters: a few context blocks of verse
        StringBuilder text = new StringBuilder();
        while (text.length() < 3000) {
            text.append("ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n\n");
        }
        java.nio.file.Path file = tmp.resolve("verse.txt");
        java.nio.file.Files.writeString(file, text);
        String out = run(0, "eval", "--text", file.toString(), "--from", "0", "--decode", "frozen");
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("loss=(\\d+\\.\\d+) tokens=(\\d+) full_forward_loss=(\\d+\\.\\d+) frozen_loss=(\\d+\\.\\d+)").matcher(out);
        assertTrue(m.find(), out);
        assertTrue(Double.parseDouble(m.group(4)) > 0 && Double.parseDouble(m.group(1)) > 0, out);
        assertTrue(run(2, "eval", "--text", file.toString(), "--decode", "fast").contains("decode mode must be"));
    }

    @Test
    void verifyRunsFromThePackagedJar() throws Exception {
        String tiny = java.nio.file.Path.of("src/test/resources/reference/tiny").toAbsolutePath().toString();
        String out = run(0, "verify", tiny, tiny + "/vectors.safetensors");
        assertTrue(out.contains("greedy_match=60/60 incremental_greedy_match=60/60"), out);
    }

    /** {@code bench --ops} prints the step program's operations per step at B = 1, 8, 64 (docs/performance.md "Operations per step"). */
    @Test
    void opsPrintsTheStepsOperations() throws Exception {
        String out = run(0, "bench", "--ops", "--quick");
        for (int b : new int[] {1, 8, 64}) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("ops config=moa-shakespeare batch=" + b + " per_step=(\\d+) "
                    + "per_token=\\d+ matmul=(\\d+) elementwise=\\d+ indexing=\\d+ reduction=\\d+ sort_topk=\\d+ other=\\d+ "
                    + "us_per_op=[0-9.]+ ms_per_step=[0-9.]+ fraction_of_matmul_rate=[0-9.]+").matcher(out);
            assertTrue(m.find(), out);
            assertTrue(Integer.parseInt(m.group(1)) > 0 && Integer.parseInt(m.group(2)) > 0, out);
        }
    }

    /**
     * {@code bench --ops} also names the most frequent operations and where the step's time goes,
     * and the step program's float32 path runs no casts: a cast ({@code aten::to}) in the B = 1 top
     * list means the float32 step pays the mixed-precision dispatches again (docs/decoding.md "One
     * step"); at B = 64 the attention runs as matmuls.
     */
    @Test
    void opsNamesTheStepsOperationsAndFloat32RunsNoCasts() throws Exception {
        String out = run(0, "bench", "--ops", "--quick");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("ops_by_name config=moa-shakespeare batch=1 (.*)").matcher(out);
        assertTrue(m.find(), out);
        assertTrue(m.group(1).contains("aten::linear=") && m.group(1).contains("aten::scaled_dot_product_attention="), out);
        java.util.regex.Matcher casts = java.util.regex.Pattern.compile("aten::to=(\\d+)").matcher(m.group(1));
        assertTrue(!casts.find() || Integer.parseInt(casts.group(1)) <= 4, "casts at B = 1: " + m.group(1));
        // a row per slot at B = 64: both attentions as matmuls on a CPU, none through the fused kernel
        java.util.regex.Matcher b64 = java.util.regex.Pattern.compile("ops_by_name config=moa-shakespeare batch=64 (.*)").matcher(out);
        assertTrue(b64.find(), out);
        assertTrue(b64.group(1).contains("aten::matmul=") && !b64.group(1).contains("aten::scaled_dot_product_attention="), b64.group(1));
        assertTrue(java.util.regex.Pattern.compile("ops_us_by_name config=moa-shakespeare batch=1 aten::\\w+=[0-9.]+").matcher(out).find(), out);
    }

    /**
     * {@code bench --context} prints a point per context and batch, and where a point's step runs
     * its matmuls in parts (a one-row step of the d512 model, whose weights stream from memory; a
     * step of 8 for any model) the same step with whole weights beside it; the embedded model's
     * one-row step stays whole (docs/decoding.md "Matmuls in parts").
     */
    @Test
    void contextPrintsEachPointAndTheMatmulPartsBesideWholeWeights() throws Exception {
        String out = run(0, "bench", "--context", "1024", "--batches", "1,8", "--quick");
        for (int b : new int[] {1, 8}) {
            assertTrue(java.util.regex.Pattern.compile("decode_context config=d512-L8-w32-kq32 mode=exact context=1024 batch=" + b
                    + " tokens_per_s=[0-9.]+ ms_per_step=[0-9.]+ state_bytes=\\d+").matcher(out).find(), out);
        }
        if (Runtime.getRuntime().availableProcessors() >= 2) {
            for (int b : new int[] {1, 8}) {
                assertTrue(java.util.regex.Pattern.compile("matmul_parts config=d512-L8-w32-kq32 context=1024 batch=" + b
                        + " parts_ms=[0-9.]+ whole_ms=[0-9.]+ speedup=[0-9.]+").matcher(out).find(), out);
            }
            assertTrue(out.contains("matmul_parts config=moa-shakespeare context=128 batch=8 "), out);
            assertFalse(out.contains("matmul_parts config=moa-shakespeare context=128 batch=1 "), out);
        }
    }

    /**
     * {@code bench --ttft} serves fresh 1,000-token prompts through the packaged server it starts
     * and prints the served time to first token beside the in-process prefill (docs/performance.md
     * "Time to first token").
     */
    @Test
    void ttftPrintsTheServedFirstTokenBesideThePrefill() throws Exception {
        String dir = java.nio.file.Path.of("target", "quarkus-app").toAbsolutePath().toString();
        String out = run(0, "bench", "--ttft", "--quick", "--app", dir);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("ttft tokens=1000 served_ms=(\\d+\\.\\d) served_best_ms=[0-9.]+ "
                + "server_ttft_ms=(\\d+\\.\\d) in_process_ms=(\\d+\\.\\d) ratio=[0-9.]+ served_tokens_per_s=\\d+ runs=5").matcher(out);
        assertTrue(m.find(), out);
        double served = Double.parseDouble(m.group(1));
        double server = Double.parseDouble(m.group(2));
        assertTrue(server > 0 && server <= served + 1 && Double.parseDouble(m.group(3)) > 0, out);
    }

    /**
     * {@code bench --train-cds} records the jar's class-data archive from a served load, and
     * {@code bench --scale-out} starts the packaged server itself with it (the JVM accepting it:
     * no "Unable to use shared archive") and the serving JVM flags, and prints its one line
     * (docs/performance.md "Scale-out").
     */
    @Test
    void scaleOutPrintsWhatANewReplicaYields() throws Exception {
        java.nio.file.Path dir = java.nio.file.Path.of("target", "quarkus-app").toAbsolutePath();
        java.nio.file.Path archive = dir.resolve("app-cds.jsa");
        try {
            String trained = run(0, "bench", "--train-cds", "--app", dir.toString());
            assertTrue(trained.contains("cds archive=" + archive) && java.nio.file.Files.size(archive) > 1_000_000, trained);
            String out = run(0, "bench", "--scale-out", "--app", dir.toString(), "--window", "3", "--clients", "4");
            java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                    "scale_out ready_s=(\\d+\\.\\d+) first_window_tokens=(\\d+) steady_window_tokens=(\\d+) yield=(\\d+\\.\\d+)").matcher(out);
            assertTrue(m.find(), out);
            assertTrue(Double.parseDouble(m.group(1)) > 0 && Long.parseLong(m.group(3)) > 0, out);
            assertTrue(out.contains("; jar with its class-data archive, JVM flags "
                    + String.join(" ", dev.moaserve.bench.ServingJvm.FLAGS) + ";"), out); // the JVM took them: it served
        } finally {
            java.nio.file.Files.deleteIfExists(archive); // a JDK 17 archive has no place in the JDK 25 image built from this folder
        }
    }
}

package dev.moaserve.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * {@code bench --train-cds [--app DIR]}: records the packaged jar's class-data archive,
 * {@code DIR/app-cds.jsa}, for the JDK this runs on (JDK 17's AppCDS; the container image's JDK 25
 * has its AOT cache instead). The server runs as a child process with
 * {@code -XX:ArchiveClassesAtExit}, serves a short load on every generation route family and the
 * embeddings, and is stopped with SIGTERM; the JVM writes every class it loaded, so the next
 * start maps them instead of loading them ({@code java -XX:SharedArchiveFile=DIR/app-cds.jsa -jar
 * DIR/quarkus-run.jar}). An archive is only valid for the same JDK build and the same jars: the
 * JVM ignores a stale one with a warning, it never fails.
 */
final class CdsTraining {
    static final String ARCHIVE = "app-cds.jsa";

    /** Each route family a client uses, streamed and not: their classes are in the archive too. */
    private static final List<String[]> REQUESTS = List.of(
            new String[] {"/v1/completions", "{\"prompt\": \"ROMEO:\", \"max_tokens\": 16, \"stream\": true}"},
            new String[] {"/v1/completions", "{\"prompt\": \"JULIET:\", \"max_tokens\": 16, \"temperature\": 0.8, \"seed\": 1}"},
            new String[] {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Speak.\"}], \"max_tokens\": 16, "
                    + "\"stream\": true, \"stream_options\": {\"include_usage\": true}}"},
            new String[] {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Speak.\"}], \"max_tokens\": 16}"},
            new String[] {"/v1/responses", "{\"input\": \"Speak.\", \"max_output_tokens\": 16, \"stream\": true}"},
            new String[] {"/v1/messages", "{\"model\": \"moa-shakespeare\", \"max_tokens\": 16, \"stream\": true, "
                    + "\"messages\": [{\"role\": \"user\", \"content\": \"Speak.\"}]}"},
            new String[] {"/generate_stream", "{\"inputs\": \"HAMLET:\", \"parameters\": {\"max_new_tokens\": 16}}"},
            new String[] {"/generate", "{\"inputs\": \"HAMLET:\", \"parameters\": {\"max_new_tokens\": 16}}"},
            new String[] {"/v1/embeddings", "{\"input\": [\"To be\", \"or not to be\"]}"},
            new String[] {"/tokenize", "{\"prompt\": \"ROMEO:\"}"});

    private CdsTraining() {}

    static int run(Path app, PrintStream out) throws Exception {
        Path archive = app.resolve(ARCHIVE).toAbsolutePath();
        Files.deleteIfExists(archive);
        long t0 = System.nanoTime();
        try (ChildServer server = ChildServer.start(port -> ChildServer.jar(app, List.of("-XX:ArchiveClassesAtExit=" + archive), port))) {
            if (server.awaitReady(Duration.ofMinutes(2), 100) < 0) {
                throw new IllegalStateException("not ready within 2 minutes:\n" + server.log());
            }
            int served = drive(server.uri("/"));
            // SIGTERM: the JVM writes the archive as it exits
            if (server.stop(Duration.ofSeconds(120)) == -1) {
                throw new IllegalStateException("the server did not exit within 120 s of SIGTERM");
            }
            if (!Files.isRegularFile(archive)) {
                throw new IllegalStateException("the JVM wrote no archive:\n" + server.log());
            }
            out.printf(Locale.ROOT, "cds archive=%s bytes=%d requests=%d seconds=%.1f java=%s%n", archive, Files.size(archive),
                    served, (System.nanoTime() - t0) / 1e9, System.getProperty("java.vm.version"));
            return 0;
        }
    }

    /**
     * Sends the training requests to the server at {@code base}, four rounds of every route family
     * (also the container image's AOT-cache training: {@code bench --train-cds --url URL}); throws
     * on any answer but 200, so that no archive is recorded from a failing server. Returns how many.
     */
    static int drive(URI base) throws IOException {
        int served = 0;
        for (int round = 0; round < 4; round++) {
            for (String[] r : REQUESTS) {
                LoopbackSse.Response answer = LoopbackSse.post(base.resolve(r[0]), r[1], l -> true);
                if (answer.status() != 200) {
                    throw new IllegalStateException(r[0] + " answered " + answer.status() + ": " + answer.errorBody());
                }
                served++;
            }
        }
        return served;
    }
}

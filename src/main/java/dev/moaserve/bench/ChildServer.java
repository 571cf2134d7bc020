package dev.moaserve.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * The server as a child process on a free port, its output in a temporary log: what the benches
 * that start one share ({@code --scale-out}, {@code --train-cds}). Closing it sends SIGTERM, waits
 * for the exit (then kills) and deletes the log.
 */
final class ChildServer implements AutoCloseable {
    final int port;
    /** When the process was started (System.nanoTime). */
    final long startedNanos;
    private final Process process;
    private final Path log;

    private ChildServer(int port, long startedNanos, Process process, Path log) {
        this.port = port;
        this.startedNanos = startedNanos;
        this.process = process;
        this.log = log;
    }

    /** Starts the command {@code command} gives for a free port. */
    static ChildServer start(IntFunction<List<String>> command) throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path log = Files.createTempFile("moa-child", ".log");
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(command.apply(port)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new ChildServer(port, t0, p, log);
    }

    /** The packaged jar in {@code app} on this JVM: the serving flags ({@link ServingJvm}), {@code jvmFlags}, the port, then the jar. */
    static List<String> jar(Path app, List<String> jvmFlags, int port) {
        List<String> cmd = new java.util.ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(ServingJvm.FLAGS);
        cmd.addAll(jvmFlags);
        cmd.add("-Dquarkus.http.port=" + port);
        cmd.addAll(List.of("-jar", app.resolve("quarkus-run.jar").toAbsolutePath().toString()));
        return cmd;
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    /**
     * Seconds from the start to {@code /q/health/ready} answering 200, polled every {@code pollMillis};
     * -1 when it did not within {@code within}. Throws, with the log, when the process exits first.
     */
    double awaitReady(Duration within, long pollMillis) throws IOException, InterruptedException {
        while (System.nanoTime() - startedNanos < within.toNanos()) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the server exited with " + process.exitValue() + ":\n" + log());
            }
            try {
                if (LoopbackSse.get(uri("/q/health/ready")) == 200) {
                    return (System.nanoTime() - startedNanos) / 1e9;
                }
            } catch (IOException notListening) {
                // not yet
            }
            Thread.sleep(pollMillis);
        }
        return -1;
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** SIGTERM, then the exit code within {@code within}; -1 if it is still running. */
    int stop(Duration within) throws InterruptedException {
        process.destroy();
        return process.waitFor(within.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    }

    /** What the server printed so far. */
    String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (stop(Duration.ofSeconds(30)) == -1) {
            process.destroyForcibly();
        }
        Files.deleteIfExists(log);
    }
}

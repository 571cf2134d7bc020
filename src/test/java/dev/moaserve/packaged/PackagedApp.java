package dev.moaserve.packaged;

import dev.moaserve.testing.Sse;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The packaged application ({@code target/quarkus-app/quarkus-run.jar}) run as a separate process,
 * as an operator runs it: for failsafe ITs that need a real JVM exit, real signals and real ports.
 */
final class PackagedApp implements AutoCloseable {
    private final Process process;
    private final Path log;
    final int port;

    private PackagedApp(Process process, Path log, int port) {
        this.process = process;
        this.log = log;
        this.port = port;
    }

    /** Starts the jar on a free port with {@code -Dkey=value} settings and waits until it is ready. */
    static PackagedApp start(Map<String, String> settings, Duration readyWithin) throws Exception {
        return start(settings, Map.of(), readyWithin);
    }

    /** As {@link #start(Map, Duration)}, with these environment variables added to the process's. */
    static PackagedApp start(Map<String, String> settings, Map<String, String> env, Duration readyWithin) throws Exception {
        PackagedApp app = launch(settings, env);
        long deadline = System.nanoTime() + readyWithin.toNanos();
        while (System.nanoTime() < deadline) {
            if (!app.process.isAlive()) {
                throw new IllegalStateException("the app exited with " + app.process.exitValue() + " during startup:\n" + app.output());
            }
            try {
                if (app.get("/q/health/ready").statusCode() == 200) {
                    return app;
                }
            } catch (IOException notListeningYet) {
                // retry
            }
            Thread.sleep(100);
        }
        app.close();
        throw new IllegalStateException("not ready within " + readyWithin + ":\n" + app.output());
    }

    /** Starts the jar on a free port and returns at once; {@code args} follow the jar (a command). */
    static PackagedApp launch(Map<String, String> settings, String... args) throws IOException {
        return launch(settings, Map.of(), args);
    }

    /** As {@link #launch(Map, String...)}, with these environment variables added to the process's. */
    static PackagedApp launch(Map<String, String> settings, Map<String, String> env, String... args) throws IOException {
        Path jar = Path.of("target", "quarkus-app", "quarkus-run.jar");
        if (!Files.exists(jar)) {
            throw new IllegalStateException(jar + " is missing: run after the package phase (failsafe)");
        }
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-Dai.djl.offline=true", "-Dquarkus.http.port=" + port));
        settings.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.add("-jar");
        cmd.add(jar.toString());
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile("moa-serve-it", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        return new PackagedApp(p, log, port);
    }

    boolean isAlive() {
        return process.isAlive();
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return Sse.HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String json) throws IOException, InterruptedException {
        return Sse.HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Any method with {@code name, value} header pairs; {@code json} may be null (no body). */
    HttpResponse<String> send(String method, String path, String json, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).timeout(Duration.ofSeconds(60))
                .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
        if (json != null) {
            b.header("Content-Type", "application/json");
        }
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return Sse.HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** SIGTERM, as Kubernetes and {@code docker stop} send it. */
    void terminate() {
        process.destroy();
    }

    /** Waits for the exit; returns the exit code, or -1 if it did not exit in time. */
    int awaitExit(Duration within) throws InterruptedException {
        return process.waitFor(within.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    }

    long pid() {
        return process.pid();
    }

    /** The process's resident memory, from /proc (0 where there is none). */
    long rss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid() + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (Exception gone) {
            // the process ended, or no /proc
        }
        return 0;
    }

    String output() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    @Override
    public void close() throws IOException {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Files.deleteIfExists(log);
    }
}

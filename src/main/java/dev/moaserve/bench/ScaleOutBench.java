package dev.moaserve.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.stream.Stream;

/**
 * {@code bench --scale-out [--app DIR | --command "…{port}…"] [--clients 32] [--set key=value …]}:
 * what a new replica yields in its first seconds, as an autoscaler sees it. Starts the server as a
 * child process and, from that instant, {@code clients} clients send streamed completions,
 * retrying every 200 ms until admitted (a refused connection, a 503); every streamed token is
 * counted at its arrival. Prints {@code scale_out ready_s=… first_window_tokens=… steady_window_tokens=… yield=…}:
 * readiness (/q/health/ready UP) after process start, tokens delivered in the first window after
 * process start, in a steady window of the same run (the last one), and their ratio. Not a test:
 * nothing asserts timings.
 */
final class ScaleOutBench {
    /**
     * A refused client's pause before it tries again: 32 clients at 50 ms hammered the starting
     * server with 640 connections a second on the 2 cores it loads on, delaying readiness from
     * ~4.7 s to ~11 s; at 200 ms, 160 a second (Kubernetes would send none before readiness).
     */
    private static final long RETRY_MILLIS = 200;

    private ScaleOutBench() {}

    /**
     * @param command the server's command line with {@code {port}} where its port goes (null: the
     *                fast-jar in {@code app} on this JVM, with {@code settings} as -D flags)
     */
    static int run(Path app, String command, List<String> settings, int clients, int windowSeconds, PrintStream out)
            throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        List<String> cmd = new ArrayList<>();
        if (command != null) {
            cmd.addAll(List.of("bash", "-c", "exec " + command.replace("{port}", String.valueOf(port))));
        } else {
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.add("-Dquarkus.http.port=" + port);
            settings.forEach(s -> cmd.add("-D" + s));
            cmd.addAll(List.of("-jar", app.resolve("quarkus-run.jar").toString()));
        }
        int seconds = 3 * windowSeconds; // first window, a gap for the server to settle, the steady window
        AtomicLongArray tokensPerSecond = new AtomicLongArray(seconds + 1);
        AtomicBoolean over = new AtomicBoolean();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
        Path log = Files.createTempFile("moa-scale-out", ".log");
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        List<Thread> threads = new ArrayList<>();
        try {
            for (int c = 0; c < clients; c++) {
                int client = c;
                Thread t = new Thread(() -> client(http, port, client, t0, tokensPerSecond, over), "scale-out-client-" + c);
                t.setDaemon(true);
                t.start();
                threads.add(t);
            }
            double readyS = awaitReady(http, port, p, t0, seconds, log);
            long end = t0 + TimeUnit.SECONDS.toNanos(seconds);
            while (System.nanoTime() < end && p.isAlive()) {
                Thread.sleep(100);
            }
            over.set(true);
            long first = 0;
            long steady = 0;
            for (int s = 0; s < windowSeconds; s++) {
                first += tokensPerSecond.get(s);
                steady += tokensPerSecond.get(seconds - windowSeconds + s);
            }
            out.printf(Locale.ROOT, "scale_out ready_s=%.2f first_window_tokens=%d steady_window_tokens=%d yield=%.2f%n", readyS,
                    first, steady, steady == 0 ? 0.0 : first / (double) steady);
            out.printf(Locale.ROOT, "# %d clients, windows of %d s: [0, %d) after process start, and [%d, %d); tokens per second: %s%n",
                    clients, windowSeconds, windowSeconds, seconds - windowSeconds, seconds, perSecond(tokensPerSecond, seconds));
            return steady > 0 ? 0 : 1;
        } finally {
            over.set(true);
            p.destroy();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            for (Thread t : threads) {
                t.join(5_000);
            }
            Files.deleteIfExists(log);
        }
    }

    /** Seconds from process start to readiness; -1 when it never came within the run. */
    private static double awaitReady(HttpClient http, int port, Process p, long t0, int seconds, Path log) throws Exception {
        URI ready = URI.create("http://localhost:" + port + "/q/health/ready");
        while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(seconds)) {
            if (!p.isAlive()) {
                throw new IllegalStateException("the server exited with " + p.exitValue() + ":\n" + Files.readString(log));
            }
            try {
                if (http.send(HttpRequest.newBuilder(ready).GET().build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return (System.nanoTime() - t0) / 1e9;
                }
            } catch (IOException notListening) {
                // not yet
            }
            Thread.sleep(10);
        }
        return -1;
    }

    /** One client: streamed completions back to back, retrying until admitted; each token counted in its second. */
    private static void client(HttpClient http, int port, int client, long t0, AtomicLongArray tokensPerSecond, AtomicBoolean over) {
        URI uri = URI.create("http://localhost:" + port + "/v1/completions");
        int n = 0;
        while (!over.get()) {
            String body = "{\"prompt\": \"ROMEO " + client + "." + n++ + ":\", \"max_tokens\": 64, \"stream\": true}";
            try {
                HttpResponse<Stream<String>> r = http.send(HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofLines());
                try (Stream<String> lines = r.body()) {
                    if (r.statusCode() != 200) {
                        lines.forEach(l -> { }); // read to its end: the connection is kept for the next try
                        Thread.sleep(RETRY_MILLIS);
                        continue;
                    }
                    lines.filter(l -> l.startsWith("data:") && l.contains("\"text\"")).forEach(l -> {
                        int second = (int) ((System.nanoTime() - t0) / 1_000_000_000L);
                        if (second < tokensPerSecond.length()) {
                            tokensPerSecond.incrementAndGet(second);
                        }
                    });
                }
            } catch (IOException refused) {
                sleep();
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(RETRY_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String perSecond(AtomicLongArray a, int seconds) {
        StringBuilder b = new StringBuilder();
        for (int s = 0; s < seconds; s++) {
            b.append(s == 0 ? "" : " ").append(a.get(s));
        }
        return b.toString();
    }
}

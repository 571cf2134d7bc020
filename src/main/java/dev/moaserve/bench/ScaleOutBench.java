package dev.moaserve.bench;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * {@code bench --scale-out [--app DIR | --command "…{port}…"] [--clients 32] [--set key=value …]}:
 * what a new replica yields in its first seconds, as an autoscaler sees it. Starts the server as a
 * child process and, from that instant, {@code clients} clients send streamed completions,
 * retrying every 200 ms until admitted (a refused connection, a 503); every streamed token is
 * counted at its arrival. The clients are lean (one socket per request) and their code is
 * compiled before the server starts ({@link #warmClients}), so that what they cost the shared
 * cores is small and the same in every window. The jar in {@code --app} runs with its class-data
 * archive when it has one ({@link CdsTraining}). Prints {@code scale_out ready_s=… first_window_tokens=… steady_window_tokens=… yield=…}:
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
        Path cds = app.resolve(CdsTraining.ARCHIVE);
        List<String> flags = new ArrayList<>();
        if (Files.isRegularFile(cds)) {
            flags.add("-XX:SharedArchiveFile=" + cds); // the jar's class-data archive (bench --train-cds)
        }
        settings.forEach(s -> flags.add("-D" + s));
        int seconds = 3 * windowSeconds; // first window, a gap for the server to settle, the steady window
        AtomicLongArray tokensPerSecond = new AtomicLongArray(seconds + 1);
        AtomicBoolean over = new AtomicBoolean();
        warmClients(clients);
        List<Thread> threads = new ArrayList<>();
        try (ChildServer server = ChildServer.start(port -> command != null
                ? List.of("bash", "-c", "exec " + command.replace("{port}", String.valueOf(port)))
                : ChildServer.jar(app, flags, port))) {
            try {
                URI completions = server.uri("/v1/completions");
                for (int c = 0; c < clients; c++) {
                    int client = c;
                    Thread t = new Thread(() -> client(completions, client, server.startedNanos, tokensPerSecond, over),
                            "scale-out-client-" + c);
                    t.setDaemon(true);
                    t.start();
                    threads.add(t);
                }
                double readyS = server.awaitReady(Duration.ofSeconds(seconds), 20);
                long end = server.startedNanos + TimeUnit.SECONDS.toNanos(seconds);
                while (System.nanoTime() < end && server.isAlive()) {
                    Thread.sleep(100);
                }
                over.set(true);
                boolean staleArchive = server.log().contains("Unable to use shared archive");
                long first = 0;
                long steady = 0;
                for (int s = 0; s < windowSeconds; s++) {
                    first += tokensPerSecond.get(s);
                    steady += tokensPerSecond.get(seconds - windowSeconds + s);
                }
                out.printf(Locale.ROOT, "scale_out ready_s=%.2f first_window_tokens=%d steady_window_tokens=%d yield=%.2f%n", readyS,
                        first, steady, steady == 0 ? 0.0 : first / (double) steady);
                out.printf(Locale.ROOT, "# %d clients, windows of %d s: [0, %d) after process start, and [%d, %d); %s; tokens per second: %s%n",
                        clients, windowSeconds, windowSeconds, seconds - windowSeconds, seconds,
                        command != null ? "command: " + command : (!Files.isRegularFile(cds) ? "jar"
                                : staleArchive ? "jar; its class-data archive is stale (not used)" : "jar with its class-data archive")
                                + ", JVM flags " + String.join(" ", ServingJvm.FLAGS),
                        perSecond(tokensPerSecond, seconds));
                return steady > 0 ? 0 : 1;
            } finally {
                over.set(true);
                server.stop(Duration.ofSeconds(30));
                for (Thread t : threads) {
                    t.interrupt();
                    t.join(5_000);
                }
            }
        }
    }

    /** One client: streamed completions back to back, retrying until admitted; each token counted in its second. */
    private static void client(URI uri, int client, long t0, AtomicLongArray tokensPerSecond, AtomicBoolean over) {
        int n = 0;
        while (!over.get()) {
            String body = "{\"prompt\": \"ROMEO " + client + "." + n++ + ":\", \"max_tokens\": 64, \"stream\": true}";
            try {
                LoopbackSse.Response r = LoopbackSse.post(uri, body, l -> {
                    if (l.startsWith("data:") && l.contains("\"text\"")) {
                        int second = (int) ((System.nanoTime() - t0) / 1_000_000_000L);
                        if (second < tokensPerSecond.length()) {
                            tokensPerSecond.incrementAndGet(second);
                        }
                    }
                    return !over.get();
                });
                if (r.status() != 200) {
                    sleep();
                }
            } catch (IOException refused) {
                sleep();
            }
        }
    }

    /**
     * The clients' own code, and the readiness poll's, compiled before the server starts: they run
     * against a stand-in on this JVM for a moment, so that the first window measures the new
     * server, not a cold client sharing its cores (an autoscaler's traffic comes from warm load
     * balancers).
     */
    private static void warmClients(int clients) throws Exception {
        HttpServer stub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        byte[] event = "data: {\"choices\": [{\"text\": \"a\"}]}\n\n".getBytes(StandardCharsets.UTF_8);
        stub.createContext("/v1/completions", x -> {
            x.getRequestBody().readAllBytes();
            x.getResponseHeaders().add("Content-Type", "text/event-stream");
            x.sendResponseHeaders(200, 0);
            try (OutputStream o = x.getResponseBody()) {
                for (int i = 0; i < 64; i++) {
                    o.write(event);
                }
            }
        });
        stub.createContext("/q/health/ready", x -> {
            x.sendResponseHeaders(200, -1);
            x.close();
        });
        stub.setExecutor(Executors.newFixedThreadPool(4));
        stub.start();
        try {
            URI uri = URI.create("http://127.0.0.1:" + stub.getAddress().getPort() + "/v1/completions");
            AtomicLongArray sink = new AtomicLongArray(1);
            AtomicBoolean over = new AtomicBoolean();
            List<Thread> threads = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int c = 0; c < Math.min(clients, 8); c++) {
                int client = c;
                Thread t = new Thread(() -> client(uri, client, t0, sink, over), "scale-out-warm-" + c);
                t.start();
                threads.add(t);
            }
            // and the readiness poll (ChildServer.awaitReady), which runs beside them from the server's start
            URI ready = URI.create("http://127.0.0.1:" + stub.getAddress().getPort() + "/q/health/ready");
            while (System.nanoTime() - t0 < 2_000_000_000L) {
                LoopbackSse.get(ready);
                Thread.sleep(5);
            }
            over.set(true);
            for (Thread t : threads) {
                t.join(5_000);
            }
        } finally {
            stub.stop(0);
            ((java.util.concurrent.ExecutorService) stub.getExecutor()).shutdownNow();
        }
    }

    private static void sleep() {
        if (Thread.currentThread().isInterrupted()) {
            return;
        }
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

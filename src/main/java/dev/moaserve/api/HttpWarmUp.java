package dev.moaserve.api;

import io.quarkus.runtime.LaunchMode;
import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.logging.Logger;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The server's own requests before it reports ready ({@code moa.warm-up-requests}): streamed
 * completions and chat completions over loopback, through the same routes, event loops and
 * engine as a client's, so the JIT has compiled that path before the first client arrives
 * (measured: 32 clients got 1,621 tok/s from a cold server, 3,200–4,100 once warm). They carry a
 * per-process key ({@link #HEADER}) that only they know; nothing else is admitted meanwhile.
 */
final class HttpWarmUp {
    static final String HEADER = "X-Moa-Warm-Up";
    private static final Logger LOG = Logger.getLogger(HttpWarmUp.class);

    private HttpWarmUp() {}

    /** Who may pass while the server warms up: only requests that carry this process's key. */
    static final class Gate {
        /** Known only to this process's own warm-up requests. */
        private final String key = java.util.UUID.randomUUID().toString();
        private volatile boolean warming;

        /** Sends {@code requests} warm-up requests to this server and returns when they are done. */
        void run(int requests) {
            warming = true;
            try {
                HttpWarmUp.run(loopbackUri(), key, requests);
            } finally {
                warming = false;
            }
        }

        boolean warming() {
            return warming;
        }

        /** A request carrying this process's key ({@link #HEADER}), while it warms up. */
        boolean admits(String header) {
            return warming && header != null && java.security.MessageDigest.isEqual(
                    header.getBytes(java.nio.charset.StandardCharsets.UTF_8), key.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
    }

    /** This server's own address: its HTTP port on loopback (or on the one interface it binds). */
    static URI loopbackUri() {
        var config = ConfigProvider.getConfig();
        String portKey = LaunchMode.current() == LaunchMode.TEST ? "quarkus.http.test-port" : "quarkus.http.port";
        int port = config.getOptionalValue(portKey, Integer.class).orElse(8080);
        String host = config.getOptionalValue("quarkus.http.host", String.class).orElse("0.0.0.0");
        if (host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]") || host.equals("localhost")) {
            host = "127.0.0.1";
        }
        return URI.create("http://" + (host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port);
    }

    /**
     * Sends {@code requests} streamed requests of 32 tokens, 16 at a time, to {@code base}, waiting
     * up to 10 s for its port to answer; logs one line. Failures are logged, never thrown: a server
     * that could not warm up still serves.
     */
    static void run(URI base, String key, int requests) {
        long t0 = System.nanoTime();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
        if (!awaitPort(http, base, key)) {
            LOG.warnf("warm-up skipped: %s did not answer within 10 s", base);
            return;
        }
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        int parallel = Math.min(16, requests);
        ExecutorService pool = Executors.newFixedThreadPool(parallel, r -> {
            Thread t = new Thread(r, "moa-warm-up");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> all = new ArrayList<>();
            for (int c = 0; c < parallel; c++) {
                all.add(pool.submit(() -> {
                    for (int i; (i = next.getAndIncrement()) < requests; ) {
                        if (!send(http, base, key, i)) {
                            failed.incrementAndGet();
                        }
                    }
                }));
            }
            for (Future<?> f : all) {
                f.get();
            }
        } catch (Exception e) {
            LOG.warnf("warm-up stopped: %s", e.toString());
        } finally {
            pool.shutdownNow();
        }
        LOG.infof("warm-up: %d requests over loopback (%d failed) in %.0f ms", requests, failed.get(), (System.nanoTime() - t0) / 1e6);
    }

    /** Request i: a streamed completion or chat completion (alternately), 32 tokens, sampled. */
    private static boolean send(HttpClient http, URI base, String key, int i) {
        boolean chat = i % 2 == 1;
        String body = chat
                ? "{\"messages\": [{\"role\": \"user\", \"content\": \"Speak, good citizen " + i + "\"}], \"max_tokens\": 32, "
                + "\"temperature\": 0.8, \"seed\": " + i + ", \"stream\": true, \"stream_options\": {\"include_usage\": true}}"
                : "{\"prompt\": \"First Citizen " + i + ":\", \"max_tokens\": 32, \"temperature\": 0.8, \"seed\": " + i
                + ", \"stream\": true}";
        try {
            HttpResponse<Void> r = http.send(HttpRequest.newBuilder(base.resolve(chat ? "/v1/chat/completions" : "/v1/completions"))
                            .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json").header(HEADER, key)
                            .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.discarding());
            return r.statusCode() == 200;
        } catch (Exception e) {
            return false;
        }
    }

    private static boolean awaitPort(HttpClient http, URI base, String key) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            try {
                http.send(HttpRequest.newBuilder(base.resolve("/q/health/live")).timeout(Duration.ofSeconds(2)).header(HEADER, key)
                        .GET().build(), HttpResponse.BodyHandlers.discarding());
                return true;
            } catch (Exception e) {
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
        return false;
    }
}

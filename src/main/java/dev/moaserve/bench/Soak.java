package dev.moaserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code loadgen --soak SECONDS [--clients 64] [--disconnect-every 7] [--pid PID]}: a bounded soak
 * of a running server. Each client loops over a seeded mix of completions and chat requests
 * (streaming and not, greedy, temperature/top-p/top-k, penalties, logprobs, stop strings); one
 * client in {@code disconnect-every} vanishes mid-stream on every request. Reports completed /
 * aborted / errors, output tokens/s, the server's RSS at start, middle and end (from
 * {@code /proc/PID/status}, when the server's pid is given) and the running sequences the server
 * reports after the load stops (it must drop to 0 at once: vanished clients free their slots).
 * Clients speak HTTP/1.1, one connection each, as OpenAI's SDKs do: a vanishing client closes its
 * connection. (Over one shared HTTP/2 connection, thousands of cancelled streams look like a
 * rapid-reset attack and the server answers GOAWAY, failing every stream on that connection.)
 */
public final class Soak {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String url;
    private final int clients;
    private final int disconnectEvery;
    private final long pid;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong aborted = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong tokens = new AtomicLong();
    private final List<String> errorExamples = new ArrayList<>();

    public Soak(String url, int clients, int disconnectEvery, long pid) {
        this.url = url;
        this.clients = clients;
        this.disconnectEvery = disconnectEvery;
        this.pid = pid;
    }

    public ObjectNode run(double seconds, long seed, PrintStream out) throws Exception {
        long rssStart = rss();
        long t0 = System.nanoTime();
        long end = t0 + (long) (seconds * 1e9);
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<?>> futures = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            boolean vanishes = disconnectEvery > 0 && c % disconnectEvery == disconnectEvery - 1;
            Random rnd = new Random(seed * 1000 + c);
            futures.add(pool.submit(() -> {
                while (System.nanoTime() < end) {
                    one(rnd, vanishes);
                }
            }));
        }
        long rssMiddle = -1;
        while (System.nanoTime() < end) {
            Thread.sleep(Math.min(1000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
            if (rssMiddle < 0 && System.nanoTime() > t0 + (end - t0) / 2) {
                rssMiddle = rss();
            }
            long elapsed = (System.nanoTime() - t0) / 1_000_000_000L;
            if (elapsed > 0 && elapsed % 30 == 0) {
                out.printf(Locale.ROOT, "soak: %d s, %d completed, %d aborted, %d errors%n", elapsed, completed.get(),
                        aborted.get(), errors.get());
            }
        }
        for (Future<?> f : futures) {
            f.get();
        }
        pool.shutdown();
        double wall = (System.nanoTime() - t0) / 1e9;
        long afterEnd = System.nanoTime();
        double running = runningSequences();
        while (running > 0 && System.nanoTime() - afterEnd < 1_000_000_000L) {
            Thread.sleep(20);
            running = runningSequences();
        }
        double settle = (System.nanoTime() - afterEnd) / 1e9;
        long rssEnd = rss();

        ObjectNode o = JSON.createObjectNode();
        o.put("duration_s", wall);
        o.put("clients", clients);
        o.put("disconnect_every", disconnectEvery);
        o.put("completed", completed.get());
        o.put("aborted", aborted.get());
        o.put("errors", errors.get());
        o.put("output_tokens_per_s", tokens.get() / wall);
        o.put("rss_start_bytes", rssStart);
        o.put("rss_middle_bytes", rssMiddle);
        o.put("rss_end_bytes", rssEnd);
        o.put("running_after_end", running);
        o.put("running_settled_within_s", settle);
        synchronized (errorExamples) {
            errorExamples.stream().limit(5).forEach(o.putArray("error_examples")::add);
        }
        out.printf(Locale.ROOT, "soak %.0f s, %d clients (1 in %d vanishes mid-stream): %d completed, %d aborted, %d errors, "
                        + "%.1f tok/s; RSS start/middle/end %.1f / %.1f / %.1f MB; running after end %.0f (%.2f s)%n",
                wall, clients, disconnectEvery, completed.get(), aborted.get(), errors.get(), tokens.get() / wall,
                rssStart / 1e6, rssMiddle / 1e6, rssEnd / 1e6, running, settle);
        return o;
    }

    /** One request of the mix; a vanishing client closes its stream after a few events. */
    private void one(Random rnd, boolean vanishes) {
        boolean chat = rnd.nextBoolean();
        boolean stream = vanishes || rnd.nextInt(4) != 0;
        ObjectNode b = JSON.createObjectNode();
        if (chat) {
            b.putArray("messages").addObject().put("role", "user").put("content", rnd.nextBoolean() ? "Speak." : "What news?");
        } else {
            b.put("prompt", rnd.nextBoolean() ? "ROMEO:" : "First Citizen:\nBefore we proceed any further, hear me speak.\n");
        }
        b.put("max_tokens", 16 + rnd.nextInt(113));
        switch (rnd.nextInt(5)) {
            case 0 -> b.put("temperature", 0);
            case 1 -> b.put("temperature", 0.8).put("top_p", 0.9).put("seed", rnd.nextInt(1000));
            case 2 -> b.put("temperature", 1.0).put("top_k", 20);
            case 3 -> b.put("temperature", 0.7).put("presence_penalty", 0.5).put("frequency_penalty", 0.3);
            default -> b.put("temperature", 0.9).put("min_p", 0.05).put("stop", "\n\n");
        }
        if (rnd.nextInt(5) == 0) {
            if (chat) {
                b.put("logprobs", true).put("top_logprobs", 2);
            } else {
                b.put("logprobs", 2);
            }
        }
        b.put("stream", stream);
        int abortAfter = vanishes ? 1 + rnd.nextInt(20) : Integer.MAX_VALUE;
        try {
            HttpRequest req = HttpRequest.newBuilder(URI.create(url + (chat ? "/v1/chat/completions" : "/v1/completions")))
                    .timeout(Duration.ofMinutes(5)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(b.toString())).build();
            HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream body = r.body()) {
                if (r.statusCode() != 200) {
                    error("HTTP " + r.statusCode() + ": " + new String(body.readAllBytes(), StandardCharsets.UTF_8));
                    return;
                }
                if (!stream) {
                    JsonNode j = JSON.readTree(body);
                    tokens.addAndGet(j.path("usage").path("completion_tokens").asLong());
                    completed.incrementAndGet();
                    return;
                }
                BufferedReader in = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8));
                int events = 0;
                for (String line; (line = in.readLine()) != null; ) {
                    if (!line.startsWith("data:")) {
                        continue;
                    }
                    String data = line.substring(5).trim();
                    if (data.equals("[DONE]")) {
                        completed.incrementAndGet();
                        return;
                    }
                    JsonNode chunk = JSON.readTree(data);
                    if (chunk.has("error")) {
                        error(chunk.toString());
                        return;
                    }
                    tokens.incrementAndGet(); // one content chunk per token (character-level model)
                    if (++events >= abortAfter) {
                        aborted.incrementAndGet();
                        return; // closing the body drops the connection mid-stream
                    }
                }
                error("stream ended without [DONE]");
            }
        } catch (IOException | InterruptedException e) {
            error(e.toString());
        }
    }

    private void error(String what) {
        errors.incrementAndGet();
        synchronized (errorExamples) {
            if (errorExamples.size() < 5) {
                errorExamples.add(what);
            }
        }
    }

    /** The server's resident set size, or -1 without a pid. */
    private long rss() throws IOException {
        if (pid <= 0) {
            return -1;
        }
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return -1;
    }

    /** moa_sequences_running from the server's Prometheus metrics. */
    private double runningSequences() throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/q/metrics")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        for (String line : r.body().split("\n")) {
            if (line.startsWith("moa_sequences_running")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new IOException("no moa_sequences_running in /q/metrics");
    }
}

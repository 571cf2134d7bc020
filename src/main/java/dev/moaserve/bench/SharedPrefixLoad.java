package dev.moaserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code loadgen --shared-prefix 192 --url A [--baseline-url B] [--clients 8] [--requests 64]
 * [--rounds 3]}: chat-style requests that share a system prompt of the given length and differ
 * in a short question, streamed; reports TTFT p50/p99, prompt tokens/s and the share of prompt
 * tokens the server reused ({@code usage.prompt_tokens_details.cached_tokens}). With a baseline
 * server (e.g. the same server started with {@code moa.prefix-cache-bytes=0}) the two are measured
 * in alternating rounds of one run and their ratio printed.
 */
final class SharedPrefixLoad {
    private static final ObjectMapper JSON = new ObjectMapper();
    private SharedPrefixLoad() {}

    static ObjectNode run(int prefix, String url, String baseline, int clients, int requests, int rounds, PrintStream out)
            throws Exception {
        String system = (PrefixBench.SYSTEM + " ").repeat(prefix / PrefixBench.SYSTEM.length() + 1).substring(0, prefix);
        out.printf(Locale.ROOT, "shared prefix %d chars + a question, %d clients, %d requests per round, max_tokens 8%n",
                prefix, clients, requests);
        out.println("| server | round | TTFT p50 ms | TTFT p99 ms | prompt tok/s | reused prompt tokens |");
        out.println("|---|---|---|---|---|---|");
        double[][] sums = new double[2][3];
        for (int r = 0; r < rounds; r++) {
            for (int s = 0; s < (baseline == null ? 1 : 2); s++) {
                double[] x = round(s == 0 ? url : baseline, system, clients, requests);
                out.printf(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.0f | %.0f %% |%n", s == 0 ? "url" : "baseline", r, x[0], x[1],
                        x[2], 100 * x[3]);
                for (int k = 0; k < 3; k++) {
                    sums[s][k] += x[k] / rounds;
                }
            }
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("ttft_p50_ms", sums[0][0]);
        o.put("ttft_p99_ms", sums[0][1]);
        o.put("prompt_tokens_per_s", sums[0][2]);
        if (baseline != null) {
            o.put("baseline_ttft_p50_ms", sums[1][0]);
            o.put("baseline_ttft_p99_ms", sums[1][1]);
            o.put("baseline_prompt_tokens_per_s", sums[1][2]);
            out.printf(Locale.ROOT, "url vs baseline (mean of rounds): TTFT p50 %.2fx lower, p99 %.2fx lower, prompt tok/s %.2fx%n",
                    sums[1][0] / sums[0][0], sums[1][1] / sums[0][1], sums[0][2] / sums[1][2]);
        }
        o.put("errors", 0);
        return o;
    }

    /** TTFT p50, p99 (ms), prompt tokens/s, reused share. */
    private static double[] round(String url, String system, int clients, int requests) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        double[] ttft = new double[requests];
        long[] prompt = new long[requests];
        long[] cached = new long[requests];
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long t0 = System.nanoTime();
        List<Future<?>> fs = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            fs.add(pool.submit(() -> {
                for (int i; (i = next.getAndIncrement()) < requests; ) {
                    ObjectNode b = JSON.createObjectNode();
                    b.putArray("messages").add(JSON.createObjectNode().put("role", "system").put("content", system))
                            .add(JSON.createObjectNode().put("role", "user").put("content", PrefixBench.QUESTIONS[i % PrefixBench.QUESTIONS.length]));
                    b.put("max_tokens", 8).put("temperature", 0).put("stream", true).putObject("stream_options")
                            .put("include_usage", true);
                    long start = System.nanoTime();
                    HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/chat/completions"))
                            .timeout(Duration.ofMinutes(2)).header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(b.toString())).build(), HttpResponse.BodyHandlers.ofInputStream());
                    if (r.statusCode() != 200) {
                        throw new IllegalStateException("HTTP " + r.statusCode() + ": " + new String(r.body().readAllBytes(),
                                StandardCharsets.UTF_8));
                    }
                    try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                        for (String line; (line = in.readLine()) != null; ) {
                            if (!line.startsWith("data:") || line.contains("[DONE]")) {
                                continue;
                            }
                            JsonNode chunk = JSON.readTree(line.substring(5));
                            if (ttft[i] == 0 && !chunk.at("/choices/0/delta/content").asText("").isEmpty()) {
                                ttft[i] = (System.nanoTime() - start) / 1e6;
                            }
                            if (chunk.path("usage").isObject()) {
                                prompt[i] = chunk.at("/usage/prompt_tokens").asLong();
                                cached[i] = chunk.at("/usage/prompt_tokens_details/cached_tokens").asLong();
                            }
                        }
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get();
        }
        pool.shutdown();
        double secs = (System.nanoTime() - t0) / 1e9;
        double[] sorted = ttft.clone();
        Arrays.sort(sorted);
        long p = Arrays.stream(prompt).sum();
        return new double[] {LoadGenCommand.percentile(sorted, 50), LoadGenCommand.percentile(sorted, 99), p / secs,
                (double) Arrays.stream(cached).sum() / Math.max(1, p)};
    }
}

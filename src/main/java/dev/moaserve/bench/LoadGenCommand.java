package dev.moaserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.moaserve.engine.Engine;
import dev.moaserve.engine.EngineStats;
import dev.moaserve.engine.GenerationRequest;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.engine.Scheduler;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.model.MoaModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code loadgen --url http://localhost:8080 --clients 32 --requests 256 [--prompt-len 32]
 * [--max-tokens 64] [--seed 1] [--json out.json]}: N concurrent streaming clients send a fixed,
 * seeded mix of {@code /v1/completions} requests (prompts cut from a built-in public-domain text)
 * and report, like vLLM's serving benchmark, request throughput, output tokens/s, TTFT,
 * inter-token latency and end-to-end latency (mean, p50, p99), and errors. With
 * {@code --soak SECONDS}: a bounded soak instead ({@link Soak}); with {@code --shared-prefix N}:
 * the prefix-cache load ({@link SharedPrefixLoad}).
 */
@Command(name = "loadgen", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        description = {"Load a running server (loopback) and report throughput and latencies.",
                "Like vLLM's serving benchmark: concurrent streaming clients, then throughput, TTFT, inter-token and",
                "end-to-end latency (mean, p50, p99) and errors. --soak and --shared-prefix select the soak and the prefix-cache load."})
public final class LoadGenCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TEXT = "First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. "
            + "First Citizen: You are all resolved rather to die than to famish? All: Resolved. resolved. First Citizen: "
            + "First, you know Caius Marcius is chief enemy to the people. All: We know't, we know't. First Citizen: Let us "
            + "kill him, and we'll have corn at our own price. Is't a verdict? All: No more talking on't; let it be done: "
            + "away, away! Second Citizen: One word, good citizens. ";

    /** Outcome of one request. */
    record Sample(boolean ok, String error, int tokens, double ttft, double e2e, List<Double> itl) {}

    @Option(names = "--url", defaultValue = "http://localhost:8080", description = "server (loopback only; default: ${DEFAULT-VALUE})")
    String url;
    @Option(names = "--clients", description = "concurrent clients (default: 8; 64 with --soak)")
    Integer clients;
    @Option(names = "--requests", defaultValue = "64", description = "requests in all (per round with --shared-prefix; default: ${DEFAULT-VALUE})")
    int requests;
    @Option(names = "--prompt-len", defaultValue = "32", description = "prompt characters (default: ${DEFAULT-VALUE})")
    int promptLen;
    @Option(names = "--max-tokens", defaultValue = "64", description = "tokens generated per request (default: ${DEFAULT-VALUE})")
    int maxTokens;
    @Option(names = "--seed", defaultValue = "1", description = "seed of the request mix (default: ${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--model", description = "the request's model field (default: the server's)")
    String model;
    @Option(names = "--json", paramLabel = "FILE", description = "also write the report as JSON")
    Path json;
    @Option(names = "--compare-engine", description = "also run the same mix through the engine in this process, without HTTP")
    boolean compareEngine;
    @Option(names = "--soak", paramLabel = "SECONDS", description = "a bounded soak instead: mixed routes, clients that vanish, memory sampled")
    Double soak;
    @Option(names = "--disconnect-every", defaultValue = "7", description = "soak: one client in N disconnects mid-stream (default: ${DEFAULT-VALUE})")
    int disconnectEvery;
    @Option(names = "--pid", defaultValue = "0", description = "the server's process id: its CPU time (and, in a soak, RSS) from /proc beside the load's")
    long pid;
    @Option(names = "--preset", description = "a published workload: vllm-serve (896-token random prompts, 128 output tokens, "
            + "256 requests at once, TTFT/TPOT/ITL p50/p99) or guidellm-sweep (concurrency 1 to 64, 32 requests per level)")
    String preset;
    @Option(names = "--shared-prefix", paramLabel = "CHARS", description = "the prefix-cache load instead: chat requests sharing a system prompt of CHARS characters")
    Integer sharedPrefix;
    @Option(names = "--baseline-url", description = "shared prefix: a second server measured in alternating rounds (e.g. with moa.prefix-cache-bytes=0)")
    String baselineUrl;
    @Option(names = "--rounds", defaultValue = "3", description = "shared prefix: rounds per server (default: ${DEFAULT-VALUE})")
    int rounds;

    private final PrintStream out;

    public LoadGenCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() throws Exception {
        for (String u : baselineUrl == null ? List.of(url) : List.of(url, baselineUrl)) {
            if (!u.startsWith("http://localhost") && !u.startsWith("http://127.0.0.1")) {
                throw new IllegalArgumentException("loadgen targets loopback only (http://localhost or 127.0.0.1)");
            }
        }
        if (requests < 1 || requests > 100_000 || promptLen < 1 || maxTokens < 1 || (clients != null && clients < 1)) {
            throw new IllegalArgumentException("clients, requests, prompt-len and max-tokens must be positive");
        }
        String jsonOut = json == null ? null : json.toString();
        if (sharedPrefix != null) {
            write(SharedPrefixLoad.run(sharedPrefix, url, baselineUrl, clients == null ? 8 : clients, requests, rounds, out),
                    jsonOut, out);
            return 0;
        }
        if (soak != null) {
            ObjectNode r = new Soak(url, clients == null ? 64 : clients, disconnectEvery, pid).run(soak, seed, out);
            write(r, jsonOut, out);
            return r.get("errors").asLong() == 0 && r.get("running_after_end").asDouble() == 0 ? 0 : 1;
        }
        if ("guidellm-sweep".equals(preset)) {
            return sweep(out, jsonOut);
        }
        if ("vllm-serve".equals(preset)) {
            promptLen = 896; // prompt + output within the embedded model's 1,024 (vLLM's default is 1,024 + 128)
            maxTokens = 128;
            requests = 256;
            clients = 256;   // every request at once: vLLM's default unlimited request rate
        } else if (preset != null) {
            throw new IllegalArgumentException("--preset must be vllm-serve or guidellm-sweep, got " + preset);
        }
        int c = clients == null ? 8 : clients;
        ObjectNode report = LoadCost.measured(pid, () -> run(url, c, requests, promptLen, maxTokens, seed, model));
        printTable(out, report);
        if (compareEngine) {
            // the same request mix through the engine in this process, no HTTP (the server idles meanwhile)
            double engine = engineThroughput(c, requests, promptLen, maxTokens, seed);
            report.put("engine_output_tokens_per_s", engine);
            report.put("http_over_engine", report.get("output_tokens_per_s").asDouble() / engine);
            out.printf(Locale.ROOT, "engine alone (same mix, in-process, no HTTP): %.1f tok/s; HTTP/SSE server / engine = %.2f%n",
                    engine, report.get("http_over_engine").asDouble());
        }
        write(report, jsonOut, out);
        return report.get("errors").asInt() == 0 ? 0 : 1;
    }

    /**
     * GuideLLM-style sweep: the same mix at concurrency 1, 2, 4, … 64, one line per level
     * ({@code sweep concurrency=… output_tokens_per_s=… ttft_p50_ms=… tpot_p50_ms=… …}).
     */
    private int sweep(PrintStream out, String jsonOut) throws Exception {
        ObjectNode all = JSON.createObjectNode();
        var levels = all.putArray("levels");
        int errors = 0;
        for (int level : new int[] {1, 2, 4, 8, 16, 32, 64}) {
            ObjectNode r = LoadCost.measured(pid, () -> run(url, level, Math.max(32, level), promptLen, maxTokens, seed + level, model));
            levels.add(r);
            errors += r.get("errors").asInt();
            out.printf(Locale.ROOT, "sweep concurrency=%d output_tokens_per_s=%.1f ttft_p50_ms=%.1f ttft_p99_ms=%.1f "
                            + "tpot_p50_ms=%.2f itl_p99_ms=%.2f server_cpu_ms_per_token=%s errors=%d%n", level,
                    r.get("output_tokens_per_s").asDouble(), r.at("/ttft_ms/p50").asDouble(), r.at("/ttft_ms/p99").asDouble(),
                    r.at("/tpot_ms/p50").asDouble(), r.at("/itl_ms/p99").asDouble(),
                    r.has("server_cpu_ms_per_token") ? String.format(Locale.ROOT, "%.3f", r.get("server_cpu_ms_per_token").asDouble()) : "n/a",
                    r.get("errors").asInt());
        }
        write(all, jsonOut, out);
        return errors == 0 ? 0 : 1;
    }

    /** The report as pretty JSON, to {@code file} (--json) or stdout. */
    private static void write(ObjectNode report, String file, PrintStream out) throws java.io.IOException {
        String json = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(report);
        if (file != null) {
            Files.writeString(Path.of(file), json + "\n");
        } else {
            out.println(json);
        }
    }

    public static ObjectNode run(String url, int clients, int requests, int promptLen, int maxTokens, long seed,
                                 String model) throws Exception {
        URI completions = URI.create(url + "/v1/completions");
        Random rnd = new Random(seed);
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            String prompt = prompt(rnd, promptLen);
            ObjectNode b = JSON.createObjectNode();
            if (model != null) {
                b.put("model", model);
            }
            b.put("prompt", prompt);
            b.put("max_tokens", maxTokens);
            b.put("temperature", 0.8);
            b.put("seed", rnd.nextInt(1 << 30));
            b.put("stream", true);
            b.putObject("stream_options").put("include_usage", true); // the exact token count, whatever the tokenizer
            bodies.add(JSON.writeValueAsString(b));
        }
        AtomicInteger next = new AtomicInteger();
        List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long t0 = System.nanoTime();
        List<Future<?>> futures = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            futures.add(pool.submit(() -> {
                int i;
                while ((i = next.getAndIncrement()) < requests) {
                    samples.add(one(completions, bodies.get(i)));
                }
            }));
        }
        for (Future<?> f : futures) {
            f.get();
        }
        pool.shutdown();
        double wall = (System.nanoTime() - t0) / 1e9;
        return summarize(samples, wall, clients, promptLen, maxTokens);
    }

    /**
     * Output tokens/s of the same mix (prompts, max_tokens, seeds) run through a {@link
     * Scheduler} on the embedded model in this process, {@code clients}
     * requests in flight at a time, with no HTTP in between.
     */
    static double engineThroughput(int clients, int requests, int promptLen, int maxTokens, long seed) throws Exception {
        Random rnd = new Random(seed);
        dev.moaserve.model.Djl.sideThread(); // the engine's loop is the thread that computes on every core
        try (var model = MoaModel.loadEmbedded();
             var engine = Engine.start(model, Engine.Config.of(Math.max(clients, 1), requests), EngineStats.NONE)) {
            var scheduler = engine.scheduler();
            Semaphore inFlight = new Semaphore(clients);
            CountDownLatch done = new CountDownLatch(requests);
            AtomicLong tokens = new AtomicLong();
            long t0 = System.nanoTime();
            for (int i = 0; i < requests; i++) {
                String prompt = prompt(rnd, promptLen);
                long reqSeed = rnd.nextInt(1 << 30);
                inFlight.acquire();
                var params = SamplingParams.builder().temperature(0.8).seed(reqSeed).maxTokens(maxTokens).build();
                scheduler.submit(new GenerationRequest("engine-" + i, model.tokenizer().encode(prompt),
                        params, new TokenListener() {
                            @Override
                            public void onToken(int token, String text, Sampler.Choice choice) {
                                tokens.incrementAndGet();
                            }

                            @Override
                            public void onFinish(Finish finish) {
                                inFlight.release();
                                done.countDown();
                            }
                        }));
            }
            done.await();
            double secs = (System.nanoTime() - t0) / 1e9;
            return tokens.get() / secs;
        }
    }

    /** A prompt of {@code length} characters cut from the built-in text at a random offset (wrapping). */
    private static String prompt(Random rnd, int length) {
        int start = rnd.nextInt(TEXT.length() - 1);
        StringBuilder p = new StringBuilder();
        while (p.length() < length) {
            p.append(TEXT, start, Math.min(TEXT.length(), start + length - p.length()));
            start = 0;
        }
        return p.toString();
    }

    private static Sample one(URI url, String body) {
        long start = System.nanoTime();
        int[] tokens = {0}; // text chunks; the server's usage count is what is reported
        int[] usage = {-1};
        double[] ttft = {0};
        long[] last = {0};
        String[] error = {null};
        List<Double> itl = new ArrayList<>();
        try {
            LoopbackSse.Response r = LoopbackSse.post(url, body, line -> {
                if (!line.startsWith("data:")) {
                    return true;
                }
                String data = line.substring(5).trim();
                if (data.equals("[DONE]")) {
                    return false;
                }
                try {
                    // parse a chunk only when it carries an error or the usage: per token, a substring test
                    if (data.contains("\"error\"")) {
                        JsonNode chunk = JSON.readTree(data);
                        if (chunk.has("error")) {
                            error[0] = chunk.get("error").path("message").asText();
                            return false;
                        }
                    }
                    if (data.contains("\"usage\":{")) {
                        usage[0] = JSON.readTree(data).get("usage").path("completion_tokens").asInt(-1);
                    }
                } catch (java.io.IOException e) {
                    error[0] = "unreadable chunk: " + e.getMessage();
                    return false;
                }
                if (hasText(data)) {
                    long now = System.nanoTime();
                    if (tokens[0] == 0) {
                        ttft[0] = (now - start) / 1e9;
                    } else {
                        itl.add((now - last[0]) / 1e9); // between chunks (a held-back stop-string tail can merge tokens)
                    }
                    last[0] = now;
                    tokens[0]++;
                }
                return true;
            });
            if (r.status() != 200) {
                return new Sample(false, "HTTP " + r.status() + ": " + r.errorBody(), 0, 0, 0, List.of());
            }
            if (error[0] != null) {
                return new Sample(false, error[0], tokens[0], ttft[0], 0, itl);
            }
            return new Sample(true, null, usage[0] >= 0 ? usage[0] : tokens[0], ttft[0], (System.nanoTime() - start) / 1e9, itl);
        } catch (Exception e) {
            return new Sample(false, e.toString(), 0, 0, 0, List.of());
        }
    }

    /** A completions chunk whose first choice's text is not empty. */
    static boolean hasText(String chunk) {
        int at = chunk.indexOf("\"text\":\"");
        return at >= 0 && at + 8 < chunk.length() && chunk.charAt(at + 8) != '"';
    }

    private static ObjectNode summarize(List<Sample> samples, double wall, int clients, int promptLen, int maxTokens) {
        List<Sample> ok = samples.stream().filter(Sample::ok).toList();
        long tokens = ok.stream().mapToLong(Sample::tokens).sum();
        ObjectNode o = JSON.createObjectNode();
        o.put("clients", clients);
        o.put("requests", samples.size());
        o.put("prompt_len", promptLen);
        o.put("max_tokens", maxTokens);
        o.put("completed", ok.size());
        o.put("errors", samples.size() - ok.size());
        o.put("duration_s", wall);
        o.put("request_throughput", ok.size() / wall);
        o.put("output_tokens", tokens);
        o.put("output_tokens_per_s", tokens / wall);
        stats(o.putObject("ttft_ms"), ok.stream().mapToDouble(Sample::ttft).toArray());
        stats(o.putObject("itl_ms"), ok.stream().flatMap(s -> s.itl().stream()).mapToDouble(Double::doubleValue).toArray());
        // time per output token after the first, per request (vLLM's TPOT)
        stats(o.putObject("tpot_ms"), ok.stream().filter(s -> s.tokens() > 1)
                .mapToDouble(s -> (s.e2e() - s.ttft()) / (s.tokens() - 1)).toArray());
        stats(o.putObject("e2e_ms"), ok.stream().mapToDouble(Sample::e2e).toArray());
        List<String> errors = samples.stream().filter(s -> !s.ok()).map(Sample::error).limit(5).toList();
        errors.forEach(o.putArray("error_examples")::add);
        return o;
    }

    private static void stats(ObjectNode o, double[] seconds) {
        double[] ms = Arrays.stream(seconds).map(s -> s * 1000).sorted().toArray();
        o.put("mean", ms.length == 0 ? 0 : Arrays.stream(ms).average().orElse(0));
        o.put("p50", percentile(ms, 50));
        o.put("p99", percentile(ms, 99));
    }

    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private static void printTable(PrintStream out, ObjectNode r) {
        out.printf(Locale.ROOT, "clients %d, requests %d (%d ok, %d errors), prompt %d chars, max_tokens %d, %.1f s%n",
                r.get("clients").asInt(), r.get("requests").asInt(), r.get("completed").asInt(), r.get("errors").asInt(),
                r.get("prompt_len").asInt(), r.get("max_tokens").asInt(), r.get("duration_s").asDouble());
        out.println("| metric | value |");
        out.println("|---|---|");
        out.printf(Locale.ROOT, "| request throughput | %.2f req/s |%n", r.get("request_throughput").asDouble());
        out.printf(Locale.ROOT, "| output throughput | %.1f tok/s |%n", r.get("output_tokens_per_s").asDouble());
        out.printf(Locale.ROOT, "| load generator CPU | %.2f s |%n", r.path("loadgen_cpu_s").asDouble());
        if (r.has("server_cpu_s")) {
            out.printf(Locale.ROOT, "| server CPU | %.2f s (%.3f ms per output token) |%n", r.get("server_cpu_s").asDouble(),
                    r.path("server_cpu_ms_per_token").asDouble());
        }
        for (String k : List.of("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")) {
            JsonNode s = r.get(k);
            out.printf(Locale.ROOT, "| %s mean / p50 / p99 | %.1f / %.1f / %.1f |%n", k, s.get("mean").asDouble(),
                    s.get("p50").asDouble(), s.get("p99").asDouble());
        }
    }
}

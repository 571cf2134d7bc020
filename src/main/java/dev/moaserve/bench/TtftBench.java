package dev.moaserve.bench;

import dev.moaserve.api.protocol.Json;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.Djl;
import dev.moaserve.model.MoaModel;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * {@code bench --ttft}: a fresh 1,000-token prompt's time to its first token through the packaged
 * server — a child process on this machine: the request's parse, tokenizing, admission, the prefill,
 * the first sample and the SSE write, seen by a client on loopback — beside the same prefill in
 * this process ({@link PrefillBench#asServed}), measured first, with the server not yet started so
 * the two never share the cores. Prompts are distinct random text (the prefix cache cannot serve
 * them), {@code max_tokens: 1}, streamed, on a warm server (its first {@value #WARM_UP} requests are not
 * measured). Prints a {@code ttft …} line with both medians, the server's own {@code ttft_ms} (so
 * what the client adds shows) and their ratio; set it beside {@code ../shared/peer/run.sh} with
 * {@code PROMPT=1000} (llama.cpp's prompt processing).
 */
final class TtftBench {
    private static final int TOKENS = 1000;
    /** Requests before the measured ones: fewer leave the server's JIT compiling beside the prefill (3: ~1.5x the warm TTFT). */
    private static final int WARM_UP = 30;
    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz      ";

    private TtftBench() {}

    static int run(Path app, PrintStream out, boolean quick) throws Exception {
        int runs = quick ? 5 : 11;
        double inProcess = inProcessMs(runs);
        try (ChildServer server = ChildServer.start(port -> ChildServer.jar(app, List.of(), port))) {
            if (server.awaitReady(Duration.ofSeconds(120), 50) < 0) {
                throw new IllegalStateException("the server was not ready within 120 s:\n" + server.log());
            }
            Random rnd = new Random(11);
            for (int i = 0; i < WARM_UP; i++) {
                firstTokenMs(server, text(rnd));
            }
            double[] served = new double[runs];
            for (int i = 0; i < runs; i++) {
                served[i] = firstTokenMs(server, text(rnd));
            }
            double median = median(served);
            double best = Arrays.stream(served).min().orElse(0);
            double inServer = median(serverTtfts(loggedAll(server, WARM_UP + runs), runs));
            out.printf(Locale.ROOT, "%n| prompt tokens | served TTFT ms (median of %d) | best | the server's own ttft_ms | "
                            + "in-process prefill ms (median) | served / in-process |%n|---|---|---|---|---|---|%n"
                            + "| %d | %.1f | %.1f | %.1f | %.1f | %.2f |%n", runs, TOKENS, median,
                    best, inServer, inProcess, median / inProcess);
            out.printf(Locale.ROOT, "ttft tokens=%d served_ms=%.1f served_best_ms=%.1f server_ttft_ms=%.1f in_process_ms=%.1f "
                            + "ratio=%.2f served_tokens_per_s=%.0f runs=%d%n", TOKENS, median, best,
                    inServer, inProcess, median / inProcess, TOKENS / (median / 1000), runs);
        }
        return 0;
    }

    /** The median of {@code runs} in-process prefills of fresh random prompts, after a warm-up, ms. */
    private static double inProcessMs(int runs) {
        Djl.inferenceThread();
        try (MoaModel model = MoaModel.loadEmbedded(); IncrementalDecoder decoder = new IncrementalDecoder(model.weights())) {
            int w = model.config().routedWindowSize();
            Random rnd = new Random(5);
            double[] ms = new double[runs];
            for (int i = -3; i < runs; i++) {
                long[] prompt = DecodePoints.randomTokens(rnd, TOKENS, model.config().numTokens());
                long t0 = System.nanoTime();
                PrefillBench.asServed(decoder, prompt, w);
                if (i >= 0) {
                    ms[i] = (System.nanoTime() - t0) / 1e6;
                }
            }
            return median(ms);
        }
    }

    /** Milliseconds from sending a streamed completion of {@code prompt} to its first token's event. */
    private static double firstTokenMs(ChildServer server, String prompt) throws Exception {
        String body = "{\"prompt\": " + Json.write(prompt) + ", \"max_tokens\": 1, \"temperature\": 0, \"stream\": true}";
        long t0 = System.nanoTime();
        long[] first = {0};
        LoopbackSse.Response r = LoopbackSse.post(server.uri("/v1/completions"), body, line -> {
            if (first[0] == 0 && line.startsWith("data: {")) {
                first[0] = System.nanoTime();
            }
            return true;
        });
        if (r.status() != 200 || first[0] == 0) {
            throw new IllegalStateException("the completion failed: " + r.status() + " " + r.errorBody());
        }
        return (first[0] - t0) / 1e6;
    }

    /** The server's log once it holds {@code requests} request lines (each is written as its request ends), or after 10 s. */
    private static String loggedAll(ChildServer server, int requests) throws Exception {
        long until = System.nanoTime() + 10_000_000_000L;
        String log = server.log();
        while (serverTtfts(log, Integer.MAX_VALUE).length < requests && System.nanoTime() < until) {
            Thread.sleep(50);
            log = server.log();
        }
        return log;
    }

    /** The {@code ttft_ms} of the last {@code n} request lines the server logged (its own clock: arrival to first token). */
    static double[] serverTtfts(String log, int n) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(" ttft_ms=([0-9.]+)").matcher(log);
        List<Double> all = new java.util.ArrayList<>();
        while (m.find()) {
            all.add(Double.parseDouble(m.group(1)));
        }
        return all.subList(Math.max(0, all.size() - n), all.size()).stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static String text(Random rnd) {
        StringBuilder b = new StringBuilder(TOKENS);
        for (int i = 0; i < TOKENS; i++) {
            b.append(ALPHABET.charAt(rnd.nextInt(ALPHABET.length())));
        }
        return b.toString();
    }

    private static double median(double[] v) {
        return LoadGenCommand.percentile(Arrays.stream(v).sorted().toArray(), 50);
    }
}

package dev.moaserve.bench;

import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.engine.DecoderRunner;
import dev.moaserve.engine.EngineStats;
import dev.moaserve.engine.GenerationRequest;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.engine.EngineLoop;
import dev.moaserve.engine.Scheduler;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.model.MoaModel;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * {@code bench --prefix-cache}: the prefix-state cache and n &gt; 1, on the embedded model in this
 * process, every ratio from one run with the configurations alternating.
 * <ul>
 *   <li>shared prefix: a 192-token system prompt + a short varying question, 8 requests in
 *       flight; TTFT p50/p99 and prompt tokens/s with the cache on vs off;</li>
 *   <li>n = 4 (one prefill, the state copied) vs four separate requests at once: total time.</li>
 * </ul>
 * Not a test: nothing asserts timings.
 */
final class PrefixBench {
    /** The shared system prompt of the prefix-cache workloads (also {@link SharedPrefixLoad}'s). */
    static final String SYSTEM = "You are a player in a company of actors. Answer in the manner of the old plays, "
            + "in verse when you can, and keep to the matter of the question. Speak as the citizens of Rome speak, plainly, "
            + "and do not";
    static final String[] QUESTIONS = {"What news?", "Who comes here?", "Where is the king?", "Shall we fight?",
            "What of the corn?", "Is it night yet?", "Who calls me?", "Why do you weep?"};

    private PrefixBench() {}

    static int run(PrintStream out, boolean quick) throws Exception {
        try (MoaModel model = MoaModel.loadEmbedded();
             IncrementalDecoder decoder = new IncrementalDecoder(model.weights(), 16, IncrementalDecoder.Recompute.LAZY)) {
            long[] system = model.tokenizer().encode(SYSTEM.substring(0, 192));
            int rounds = quick ? 2 : 3;
            int requests = quick ? 32 : 64;
            out.printf(Locale.ROOT, "## prefix-state cache: %d-token system prompt + a question, 8 in flight, %d requests per round, "
                    + "max_tokens 8%n", system.length, requests);
            out.println("| cache | TTFT p50 ms | TTFT p99 ms | prompt tok/s | hit tokens / prompt tokens |");
            out.println("|---|---|---|---|---|");
            double[][] sums = new double[2][3];
            for (int round = 0; round < rounds; round++) {
                for (int on = 1; on >= 0; on--) {
                    double[] r = sharedPrefixRound(decoder, model, system, requests, on == 1);
                    out.printf(Locale.ROOT, "| %s | %.1f | %.1f | %.0f | %.2f |%n", on == 1 ? "on" : "off", r[0], r[1], r[2], r[3]);
                    for (int k = 0; k < 3; k++) {
                        sums[on][k] += r[k] / rounds;
                    }
                }
            }
            out.printf(Locale.ROOT, "prefix-cache on vs off (mean of rounds): TTFT p50 %.2fx lower, p99 %.2fx lower, prompt tok/s %.2fx%n",
                    sums[0][0] / sums[1][0], sums[0][1] / sums[1][1], sums[1][2] / sums[0][2]);

            long[] prompt = concat(system, model.tokenizer().encode(" " + QUESTIONS[0]));
            out.printf(Locale.ROOT, "%n## n = 4 vs four separate requests (%d-token prompt, max_tokens 32, cache off)%n", prompt.length);
            double forkTotal = 0;
            double separateTotal = 0;
            int reps = quick ? 3 : 5;
            for (int rep = 0; rep < reps; rep++) {
                forkTotal += group(decoder, model, prompt, true) / reps;
                separateTotal += group(decoder, model, prompt, false) / reps;
            }
            out.printf(Locale.ROOT, "n=4: %.1f ms; 4 separate: %.1f ms; separate / n=4 = %.2fx%n", forkTotal, separateTotal,
                    separateTotal / forkTotal);
        }
        return 0;
    }

    /** One round: returns TTFT p50 and p99 (ms), prompt tokens/s, and the share of prompt tokens taken from the cache. */
    private static double[] sharedPrefixRound(IncrementalDecoder decoder, MoaModel model, long[] system, int requests,
                                              boolean cache) throws Exception {
        long budget = cache ? 64 * decoder.bytesPerSequence() : 0;
        double[] ttft = new double[requests];
        long[] cached = new long[1];
        long promptTokens = 0;
        try (EngineLoop loop = EngineLoop.start(new Scheduler(new DecoderRunner(decoder), model.tokenizer(), new Scheduler.Limits(16, 512, 256, 0, budget), EngineStats.NONE))) {
            Scheduler s = loop.scheduler();
            Semaphore inFlight = new Semaphore(8);
            CountDownLatch done = new CountDownLatch(requests);
            long t0 = System.nanoTime();
            for (int i = 0; i < requests; i++) {
                long[] prompt = concat(system, model.tokenizer().encode(" " + QUESTIONS[i % QUESTIONS.length]));
                promptTokens += prompt.length;
                inFlight.acquire();
                int index = i;
                long start = System.nanoTime();
                s.submit(new GenerationRequest("p" + i, prompt, SamplingParams.builder().temperature(0).maxTokens(8).build(),
                        new TokenListener() {
                            boolean first = true;

                            @Override
                            public void onToken(int token, String text, Sampler.Choice choice) {
                                if (first) {
                                    first = false;
                                    ttft[index] = (System.nanoTime() - start) / 1e6;
                                }
                            }

                            @Override
                            public void onFinish(Finish finish) {
                                synchronized (cached) {
                                    cached[0] += finish.cachedTokens();
                                }
                                inFlight.release();
                                done.countDown();
                            }
                        }));
            }
            done.await(10, TimeUnit.MINUTES);
            double secs = (System.nanoTime() - t0) / 1e9;
            Arrays.sort(ttft);
            return new double[] {LoadGenCommand.percentile(ttft, 50), LoadGenCommand.percentile(ttft, 99),
                    promptTokens / secs, cached[0] / (double) promptTokens};
        }
    }

    /** Total ms for four completions of one prompt: one n = 4 request, or four separate ones submitted together. */
    private static double group(IncrementalDecoder decoder, MoaModel model, long[] prompt, boolean fork) throws Exception {
        try (EngineLoop loop = EngineLoop.start(new Scheduler(new DecoderRunner(decoder), model.tokenizer(), new Scheduler.Limits(16, 512, 256, 0, 0), EngineStats.NONE))) {
            Scheduler s = loop.scheduler();
            CountDownLatch done = new CountDownLatch(4);
            List<GenerationRequest> rs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                rs.add(new GenerationRequest("g" + i, prompt, SamplingParams.builder().seed((long) i).maxTokens(32).build(),
                        new TokenListener() {
                            @Override
                            public void onToken(int token, String text, Sampler.Choice choice) {}

                            @Override
                            public void onFinish(Finish finish) {
                                done.countDown();
                            }
                        }));
            }
            long t0 = System.nanoTime();
            if (fork) {
                s.submit(rs.get(0).withForks(rs.subList(1, 4)));
            } else {
                rs.forEach(s::submit);
            }
            done.await(10, TimeUnit.MINUTES);
            return (System.nanoTime() - t0) / 1e6;
        }
    }

    private static long[] concat(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

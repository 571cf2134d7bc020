package dev.moaserve.bench;

import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.engine.Engine;
import dev.moaserve.engine.EngineLoop;
import dev.moaserve.engine.EngineStats;
import dev.moaserve.engine.GenerationRequest;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.model.Djl;
import dev.moaserve.model.MoaModel;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code bench --engine [--batches 1,32]}: the engine (scheduler, sampling, emission,
 * detokenisation) at a steady batch against the bare step at the same batch, alternately in one
 * process on the embedded model. B greedy requests run at once; the engine's figure counts the
 * tokens emitted between the moment every request has its first token and the moment the first one
 * ends, so admission, prompts and the tail are not in it. One line per batch:
 * {@code engine_step batch=B step_tokens_per_s=X engine_tokens_per_s=Y engine_over_step=Z step_ms=… host_ms=… host_share=…}
 * (the loop's time per iteration inside the step program and around it: what overlapping host work
 * with the step could win).
 */
final class EngineBench {
    private EngineBench() {}

    static int run(PrintStream out, int[] batches, boolean quick) throws Exception {
        // one thread at a time computes on every core (Djl#sideThread): the bare step on a thread of
        // its own that ends before the engine's loop starts, and this thread only loads
        Djl.sideThread();
        int rounds = quick ? 2 : 3;
        int tokens = quick ? 256 : 512;
        out.printf(Locale.ROOT, "moa-serve engine vs bare step (%d cores, %s)%n",
                Runtime.getRuntime().availableProcessors(), quick ? "quick" : "full");
        try (MoaModel model = MoaModel.loadEmbedded()) {
            bareStep(model, 8, 150, quick); // JIT warm-up of both
            engineRun(model, 8, 128);
            for (int b : batches) {
                double step = 0;
                Run engine = null;
                // alternate, keep each one's best round: the machine's noise only slows things down
                for (int r = 0; r < rounds; r++) {
                    step = Math.max(step, bareStep(model, b, quick ? 48 : 96, quick));
                    Run e = engineRun(model, b, tokens);
                    engine = engine == null || e.tokensPerS() > engine.tokensPerS() ? e : engine;
                }
                EngineLoop.Times t = engine.loop();
                out.printf(Locale.ROOT, "engine_step batch=%d step_tokens_per_s=%.1f engine_tokens_per_s=%.1f engine_over_step=%.2f "
                                + "step_ms=%.3f host_ms=%.3f host_share=%.3f%n", b, step, engine.tokensPerS(), engine.tokensPerS() / step,
                        t.stepNanos() / 1e6 / t.iterations(), t.hostNanos() / 1e6 / t.iterations(), t.hostShare());
            }
        }
        return 0;
    }

    /** Tokens/s of the bare step at {@code batch} ({@link BenchCommand#decodePoint}), on a thread that ends after it. */
    private static double bareStep(MoaModel model, int batch, int steps, boolean quick) throws Exception {
        double[] result = new double[1];
        Thread t = new Thread(() -> {
            Djl.inferenceThread();
            result[0] = DecodePoints.measure(model.weights(), batch, steps, IncrementalDecoder.Recompute.LAZY, quick).tokensPerS();
        }, "bench-step");
        t.start();
        t.join();
        return result[0];
    }

    /** An engine run: output tokens/s while every request decodes, and where its loop's time went (per iteration that stepped). */
    record Run(double tokensPerS, EngineLoop.Times loop) {}

    /** {@code batch} greedy requests of {@code tokens} tokens each, at once. */
    static Run engineRun(MoaModel model, int batch, int tokens) throws InterruptedException {
        Random rnd = new Random(batch);
        try (Engine engine = Engine.start(model, Engine.Config.of(batch, batch), EngineStats.NONE)) {
            CountDownLatch started = new CountDownLatch(batch);
            CountDownLatch done = new CountDownLatch(batch);
            AtomicLong emitted = new AtomicLong();
            long[] window = new long[4]; // tokens and time when all run, and when the first ends
            for (int i = 0; i < batch; i++) {
                long[] prompt = new long[8 + rnd.nextInt(24)];
                for (int t = 0; t < prompt.length; t++) {
                    prompt[t] = 1 + rnd.nextInt(model.config().numTokens() - 1);
                }
                var params = SamplingParams.builder().temperature(0).maxTokens(tokens).build();
                engine.scheduler().submit(new GenerationRequest("bench-" + i, prompt, params, new TokenListener() {
                    private boolean first = true;

                    @Override
                    public void onToken(int token, String text, Sampler.Choice choice) {
                        long n = emitted.incrementAndGet();
                        if (first) {
                            first = false;
                            started.countDown();
                            if (started.getCount() == 0) {
                                window[0] = n;
                                window[1] = System.nanoTime();
                            }
                        }
                    }

                    @Override
                    public void onFinish(Finish finish) {
                        synchronized (window) {
                            if (window[3] == 0) {
                                window[2] = emitted.get();
                                window[3] = System.nanoTime();
                            }
                        }
                        done.countDown();
                    }
                }));
            }
            done.await();
            return new Run((window[2] - window[0]) * 1e9 / (window[3] - window[1]), engine.loopTimes());
        }
    }
}

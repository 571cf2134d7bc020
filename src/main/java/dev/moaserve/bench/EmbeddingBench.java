package dev.moaserve.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.model.Djl;
import dev.moaserve.model.EncoderConfig;
import dev.moaserve.model.EncoderForward;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.FullForward;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;

import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.decode.ScriptedEncoder;
import dev.moaserve.engine.Embedder;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import java.util.function.BiFunction;

/**
 * {@code bench --embeddings}: first one request as {@code /v1/embeddings} runs it (256 inputs of
 * 390 tokens: tokens/s and resident memory); then embeddings/s of the forward it runs (the step
 * program's, and the eager full forward beside it), at batch 1/8/32 for inputs of 64 and 256
 * tokens, for the embedded (autoregressive) model and a MoA encoder of the same size (its program
 * and its eager forward); then the point of routing: a routed encoder (local W = 64 + 2 experts
 * of k = 64) against a dense one (every token routed: full attention) at 256 and 1,024 tokens.
 * Random weights for the encoders (speed does not depend on them). One {@code embed …} line per point.
 */
final class EmbeddingBench {
    private EmbeddingBench() {}

    static int run(PrintStream out, boolean quick) {
        out.printf(Locale.ROOT, "moa-serve embeddings benchmark (%d cores, %s)%n", Runtime.getRuntime().availableProcessors(),
                quick ? "quick" : "full");
        int reps = quick ? 3 : 8;
        try (MoaModel model = MoaModel.loadEmbedded(); NDManager m = Djl.newManager();
             IncrementalDecoder decoder = new IncrementalDecoder(model.weights())) {
            request(out, model, decoder, 256, 390, quick ? 1 : 3);
            EncoderWeights encoder = Init.randomEncoder(encoder(model.config().numTokens(), 1024, 64, 32, 32), m, 1);
            try (ScriptedEncoder encoderProgram = new ScriptedEncoder(encoder)) {
                out.printf(Locale.ROOT, "%n| model | tokens | batch | ms/batch | embeddings/s | tokens/s |%n|---|---|---|---|---|---|%n");
                for (int n : new int[] {64, 256}) {
                    for (int b : new int[] {1, 8, 32}) {
                        point(out, "moa-shakespeare", n, b, reps, model.config().numTokens(),
                                (mm, ids) -> decoder.wholeRows().hidden(mm, ids, lengths(ids)), model.weights().manager());
                        point(out, "moa-shakespeare-eager", n, b, reps, model.config().numTokens(),
                                (mm, ids) -> FullForward.finalHidden(model.weights(), mm, ids, null, false), model.weights().manager());
                        point(out, "encoder-d128", n, b, reps, model.config().numTokens(),
                                (mm, ids) -> encoderProgram.hidden(mm, ids, lengths(ids)), m);
                        point(out, "encoder-d128-eager", n, b, reps, model.config().numTokens(),
                                (mm, ids) -> EncoderForward.forward(encoder, mm, ids, lengths(ids), null), m);
                    }
                }
            }
            EncoderWeights routed = Init.randomEncoder(encoder(256, 1024, 64, 64, 64), m, 2);
            EncoderWeights dense = Init.randomEncoder(encoder(256, 1024, 64, 1024, 1024), m, 3);
            out.printf(Locale.ROOT, "%n| encoder | tokens | batch | ms/batch | embeddings/s | tokens/s |%n|---|---|---|---|---|---|%n");
            for (int n : new int[] {256, 1024}) {
                point(out, "routed-k64", n, 1, reps, 256, (mm, ids) -> EncoderForward.forward(routed, mm, ids, lengths(ids), null), m);
                point(out, "dense", n, 1, reps, 256, (mm, ids) -> EncoderForward.forward(dense, mm, ids, lengths(ids), null), m);
            }
        }
        return 0;
    }

    /**
     * One request as {@code /v1/embeddings} runs it ({@link Embedder}, default token budget): {@code inputs}
     * random texts of {@code tokens} tokens each; best of {@code reps} after a warm-up, with the
     * process's resident memory before, at its peak (sampled every 10 ms) and after.
     */
    private static void request(PrintStream out, MoaModel model, IncrementalDecoder decoder, int inputs, int tokens, int reps) {
        Random rnd = new Random(5);
        List<long[]> texts = new ArrayList<>();
        for (int i = 0; i < inputs; i++) {
            long[] ids = new long[tokens];
            for (int t = 0; t < tokens; t++) {
                ids[t] = rnd.nextInt(model.config().numTokens());
            }
            texts.add(ids);
        }
        Embedder.Limits limits = new Embedder.Limits(2048, 1, Long.MAX_VALUE);
        try (Embedder embedder = Embedder.of(decoder, model.weights(), Embedder.Pooling.MEAN, limits)) {
            embedder.submit("warm-up", texts.subList(0, 8)).result().get();
            long idle = Rss.current();
            double best = Double.MAX_VALUE;
            long peak = idle;
            for (int r = 0; r < reps; r++) {
                try (Rss.Peak p = Rss.sample()) {
                    long t0 = System.nanoTime();
                    embedder.submit("bench", texts).result().get();
                    best = Math.min(best, (System.nanoTime() - t0) / 1e9);
                    peak = Math.max(peak, p.max());
                }
            }
            Thread.sleep(500);
            out.printf(Locale.ROOT, "embed_request model=moa-shakespeare inputs=%d tokens_each=%d batch_tokens=%d seconds=%.2f "
                            + "tokens_per_s=%.0f rss_idle_mib=%d rss_peak_mib=%d rss_after_mib=%d%n", inputs, tokens,
                    embedder.batchTokens(), best, inputs * (double) tokens / best, idle >> 20, peak >> 20, Rss.current() >> 20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** dim 128, 4 layers, 4 heads × 32, 2 experts, the local branch of window W. */
    private static EncoderConfig encoder(int vocab, int seqLen, int window, int kq, int kkv) {
        return new EncoderConfig(ModelConfig.builder().vocab(vocab).dim(128).depth(4).seqLen(seqLen).localWindow(window)
                .routedWindow(seqLen).routedQueries(kq).routedKeyValues(kkv).experts(2).dimHead(32).heads(4)
                .ffMult(4).build(), true);
    }

    private static int[] lengths(NDArray ids) {
        int[] l = new int[(int) ids.getShape().get(0)];
        Arrays.fill(l, (int) ids.getShape().get(1));
        return l;
    }

    /** Best of {@code reps} timed forwards of a [b, n] batch (after one warm-up). */
    private static void point(PrintStream out, String name, int n, int b, int reps, int vocab,
                              BiFunction<NDManager, NDArray, NDArray> forward, NDManager parent) {
        Random rnd = new Random(n * 31L + b);
        long[] ids = new long[b * n];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rnd.nextInt(vocab);
        }
        double best = Double.MAX_VALUE;
        for (int r = 0; r <= reps; r++) {
            try (NDManager mm = parent.newSubManager(); NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray x = mm.create(ids, new Shape(b, n));
                long t0 = System.nanoTime();
                forward.apply(mm, x).mean(new int[] {1}).toFloatArray();
                double ms = (System.nanoTime() - t0) / 1e6;
                if (r > 0) {
                    best = Math.min(best, ms);
                }
            }
        }
        out.printf(Locale.ROOT, "| %s | %d | %d | %.1f | %.1f | %.0f |%n", name, n, b, best, b * 1000.0 / best, b * n * 1000.0 / best);
        out.printf(Locale.ROOT, "embed model=%s tokens=%d batch=%d ms_per_batch=%.2f embeddings_per_s=%.2f%n", name, n, b, best,
                b * 1000.0 / best);
    }
}

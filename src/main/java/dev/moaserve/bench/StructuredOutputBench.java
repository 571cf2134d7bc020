package dev.moaserve.bench;

import ai.djl.ndarray.NDManager;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.engine.DecoderRunner;
import dev.moaserve.engine.EngineStats;
import dev.moaserve.engine.GenerationRequest;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.engine.EngineLoop;
import dev.moaserve.engine.Scheduler;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.engine.constraint.ConstraintSpec;
import dev.moaserve.engine.constraint.Constraints;
import dev.moaserve.engine.constraint.TokenConstraint;
import dev.moaserve.engine.constraint.Vocabulary;
import dev.moaserve.model.CharTokenizer;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code bench --structured-output}: what a constraint costs. Per-token time of B constrained
 * sequences vs B unconstrained ones (alternating rounds, one run), on a model of the embedded
 * shape with random weights over printable ASCII (the embedded vocabulary cannot write JSON),
 * and compile times of a few schemas (each compiled fresh). Not a test: nothing asserts timings.
 */
final class StructuredOutputBench {
    private static final String SCHEMA = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":12},"
            + "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":120},\"tags\":{\"type\":\"array\",\"items\":"
            + "{\"type\":\"string\",\"maxLength\":6},\"maxItems\":4},\"ok\":{\"type\":\"boolean\"}},\"required\":[\"name\",\"age\",\"tags\",\"ok\"]}";

    /** Every output is longer than the 64 tokens timed, so both sides generate exactly as many tokens. */
    private static final String TIMED = "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\",\"minimum\":0,"
            + "\"maximum\":999},\"text\":{\"type\":\"string\",\"minLength\":80,\"maxLength\":100}},\"required\":[\"id\",\"text\"]}";

    private StructuredOutputBench() {}

    static int run(PrintStream out, boolean quick) throws Exception {
        StringBuilder chars = new StringBuilder("\n");
        for (char c = ' '; c <= '~'; c++) {
            chars.append(c);
        }
        CharTokenizer tk = new CharTokenizer(chars.toString());
        ModelConfig e;
        try (MoaModel embedded = MoaModel.loadEmbedded()) {
            e = embedded.config();
        }
        ModelConfig c = ModelConfig.builder().vocab(chars.length()).dim(e.dim()).depth(e.depth()).seqLen(e.seqLen())
                .localWindow(e.localAttnWindowSize()).routedWindow(e.routedWindowSize())
                .routedQueries(e.numRoutedQueries()).routedKeyValues(e.numRoutedKeyValues()).experts(e.numExperts())
                .dimHead(e.dimHead()).heads(e.heads()).ffMult(e.ffMult()).cosineRouting(e.cosineSimRouting())
                .fetchKRatio(e.fetchKRatio()).routerIters(e.routerNIters()).routerEps(e.routerEps())
                .routerEpsInit(e.routerEpsInit()).routerEpsDecay(e.routerEpsDecay()).cosineScale(e.cosineSimScale()).build();
        Constraints constraints = new Constraints(() -> Vocabulary.of(tk, c.numTokens()), 16, 5_000, 200_000);
        TokenConstraint json = constraints.compile(new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, TIMED));
        out.printf(Locale.ROOT, "## structured output: decode step time (wall time ÷ tokens × batch), %d-dim %d-layer model over %d ASCII tokens, "
                + "64 new tokens per sequence (a schema whose outputs are longer: none ends early), alternating rounds%n", c.dim(), c.depth(), c.numTokens());
        out.println("| batch | unconstrained ms per step | constrained (JSON schema) ms per step | overhead |");
        out.println("|---|---|---|---|");
        try (NDManager m = Djl.newManager();
             IncrementalDecoder decoder = new IncrementalDecoder(Init.random(c, m, 1, 0.1f), 32, IncrementalDecoder.Recompute.LAZY)) {
            int rounds = quick ? 2 : 4;
            for (int batch : new int[] {1, 32}) {
                double[] sum = new double[2];
                round(decoder, tk, batch, null); // warm-up
                round(decoder, tk, batch, json);
                for (int r = 0; r < rounds; r++) {
                    sum[0] += round(decoder, tk, batch, null) / rounds;
                    sum[1] += round(decoder, tk, batch, json) / rounds;
                }
                out.printf(Locale.ROOT, "| %d | %.3f | %.3f | %+.1f %% |%n", batch, sum[0], sum[1], 100 * (sum[1] / sum[0] - 1));
                out.printf(Locale.ROOT, "structured_output batch=%d unconstrained_ms_per_step=%.3f constrained_ms_per_step=%.3f%n",
                        batch, sum[0], sum[1]);
            }
        }
        out.println();
        out.println("## compile times (fresh, no cache; best of 9)");
        out.println("| constraint | ms |");
        out.println("|---|---|");
        StringBuilder wide = new StringBuilder("{\"type\":\"object\",\"properties\":{");
        for (int i = 0; i < 20; i++) {
            String[] types = {"{\"type\":\"string\",\"maxLength\":20}", "{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000}",
                    "{\"type\":\"boolean\"}", "{\"enum\":[\"a\",\"b\",\"c\"]}", "{\"type\":\"string\",\"format\":\"date\"}"};
            wide.append(i == 0 ? "" : ",").append("\"field").append(i).append("\":").append(types[i % types.length]);
        }
        wide.append("},\"required\":[\"field0\",\"field5\",\"field10\"],\"additionalProperties\":false}");
        List<String[]> cases = List.of(new String[] {"4-property schema", "JSON_SCHEMA", SCHEMA},
                new String[] {"20-property schema (3 required)", "JSON_SCHEMA", wide.toString()},
                new String[] {"json_object (nesting ≤ 3)", "JSON_OBJECT", ""},
                new String[] {"regex [A-Z]{3}-\\d{4}", "REGEX", "[A-Z]{3}-\\d{4}"},
                new String[] {"choice of 3", "CHOICE", "[\"yes\",\"no\",\"maybe\"]"});
        for (String[] k : cases) {
            double best = Double.MAX_VALUE;
            for (int i = 0; i < 9; i++) {
                Constraints fresh = new Constraints(() -> Vocabulary.of(tk, c.numTokens()), 4, 10_000, 500_000);
                fresh.compile(new ConstraintSpec(ConstraintSpec.Kind.CHOICE, "[\"warm\"]")); // the vocabulary, not timed
                long t0 = System.nanoTime();
                fresh.compile(new ConstraintSpec(ConstraintSpec.Kind.valueOf(k[1]), k[2]));
                best = Math.min(best, (System.nanoTime() - t0) / 1e6);
            }
            out.printf(Locale.ROOT, "| %s | %.1f |%n", k[0], best);
            out.printf(Locale.ROOT, "structured_output_compile case=\"%s\" ms=%.1f%n", k[0], best);
        }
        return 0;
    }

    /** B sequences of 64 new tokens at once (sampled, seeded); the wall time per generated token. */
    private static double round(IncrementalDecoder decoder, CharTokenizer tk, int batch, TokenConstraint c) throws Exception {
        AtomicInteger tokens = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(batch);
        try (EngineLoop loop = EngineLoop.start(new Scheduler(new DecoderRunner(decoder), tk, new Scheduler.Limits(32, 512, 64, 0), EngineStats.NONE))) {
            Scheduler s = loop.scheduler();
            long t0 = System.nanoTime();
            List<GenerationRequest> requests = new ArrayList<>();
            for (int i = 0; i < batch; i++) {
                SamplingParams p = SamplingParams.builder().seed((long) i).maxTokens(64).build();
                requests.add(new GenerationRequest("b" + i, tk.encode("Record " + i + ":"), c == null ? p : p.withConstraint(c),
                        new TokenListener() {
                            @Override
                            public void onToken(int token, String text, Sampler.Choice choice) {
                                if (token >= 0) {
                                    tokens.incrementAndGet();
                                }
                            }

                            @Override
                            public void onFinish(Finish f) {
                                done.countDown();
                            }
                        }));
            }
            requests.forEach(s::submit);
            done.await(10, TimeUnit.MINUTES);
            return (System.nanoTime() - t0) / 1e6 / Math.max(1, tokens.get()) * batch;
        }
    }
}

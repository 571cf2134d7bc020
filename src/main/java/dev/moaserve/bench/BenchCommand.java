package dev.moaserve.bench;

import ai.djl.ndarray.NDManager;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.model.Djl;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.MoaWeights;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * {@code bench [--quick]}: decode benchmarks printed as tables, every ratio measured in the same run.
 * ({@code bench --prefix-cache [--quick]}: the prefix-state cache and n &gt; 1, see {@link PrefixBench};
 * {@code bench --startup …}: start → ready of the packaged app by JDK and AOT cache, see {@link StartupBench}.)
 * <ul>
 *   <li>per-token decode time of one sequence at context 128 / 1,024 / 4,096 (MoA should stay
 *       flat), and the same for a model of equal size whose local attention spans the whole
 *       context (W = 4,096: dense causal attention; every query routed, so no window recompute
 *       beyond 16 positions);</li>
 *   <li>batched decode throughput at B = 1, 8, 32, 64 and the speedup over B = 1;</li>
 *   <li>incremental decoding vs re-running the full forward on the prefix for each token (the
 *       reference's own generate);</li>
 *   <li>the matmul peak of DJL on this machine, for the achieved-FLOP/s ratio.</li>
 * </ul>
 * Shapes: the reference {@code tiny} case and a synthetic dim 512, 8 layers, w = 64 config.
 * Weights are random (speed does not depend on them). Not a test: nothing asserts timings.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        description = {"Decode benchmarks; every ratio is measured in the same run.",
                "Tables of lazy vs full-window recompute at B = 1/8/32/64, context sweep, vs full re-forward; nothing asserts timings."})
public final class BenchCommand implements Callable<Integer> {
    /** Context capacity: 4,096 plus room for the measured steps after a 4,096-token prefix. */
    static final int SEQ = 4096 + 512;

    @Option(names = "--quick", description = "the short variant (about 2 minutes here): fewer shapes and steps")
    boolean quick;
    @Option(names = "--prefix-cache", description = "instead: the prefix-state cache and n > 1")
    boolean prefixCache;
    @Option(names = "--structured-output", description = "instead: structured output's per-token overhead and compile times")
    boolean structuredOutput;

    @Option(names = "--embeddings", description = "instead: embeddings/s (64 and 256 tokens, B = 1/8/32) and routed vs dense encoders at 256 and 1,024 tokens")
    boolean embeddings;

    @Option(names = "--prefill", description = "instead: time to the first token's logits at 256/512/1,000 prompt tokens, whole windows at once vs window by window")
    boolean prefill;

    @Option(names = "--frozen", description = "instead: exact vs frozen-prefix decoding (moa.decode), and frozen with bfloat16 matmuls, at B = 1/8/32/64")
    boolean frozen;
    @Option(names = "--engine", description = "instead: the engine (scheduler, sampling, emission) at a steady batch against the bare step, at --batches")
    boolean engine;
    @Option(names = "--startup", description = "instead: start -> ready of the packaged app by JDK and AOT cache (needs --app)")
    boolean startup;
    @Option(names = "--scale-out", description = "instead: what a new replica yields in its first seconds: the server started "
            + "as a child process with --clients retrying streamed completions from that instant (--app, or --command)")
    boolean scaleOut;
    @Option(names = "--ttft", description = "instead: a fresh 1,000-token prompt's time to first token through the packaged "
            + "server (a child process, --app) beside the same prefill in process")
    boolean ttft;
    @Option(names = "--ops", description = "instead: only the embedded model's operations per step at B = 1, 8, 64 (also in the "
            + "default run): by kind, time per operation, fraction of the matmul rate")
    boolean ops;
    @Option(names = "--train-cds", description = "instead: record the packaged jar's class-data archive (--app DIR, default "
            + "target/quarkus-app) for this JDK, from a server serving a short load: DIR/app-cds.jsa")
    boolean trainCds;
    @Option(names = "--url", paramLabel = "URL", description = "train-cds: only send the training requests to this running server "
            + "(the container image's AOT-cache training)")
    String url;
    @Option(names = "--command", paramLabel = "CMD", description = "scale-out: the server's command line, {port} where its port goes "
            + "(e.g. a container: podman run --rm -p {port}:8080 moa-serve:jvm)")
    String command;
    @Option(names = "--clients", defaultValue = "32", description = "scale-out: clients (default: ${DEFAULT-VALUE})")
    int clients;
    @Option(names = "--window", defaultValue = "10", description = "scale-out: seconds per window (default: ${DEFAULT-VALUE})")
    int window;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "scale-out: a setting of the jar (-Dkey=value), repeatable")
    List<String> settings = new java.util.ArrayList<>();
    @Option(names = "--app", paramLabel = "DIR", description = "startup, scale-out, ttft: target/quarkus-app of a fast-jar build")
    Path app;
    @Option(names = "--aot-app", paramLabel = "DIR", description = "startup: an aot-jar build with its app.aot (JDK 25)")
    Path aotApp;
    @Option(names = "--jdk17", paramLabel = "JAVA_HOME", description = "startup: the JDK 17 to run (default: this one)")
    Path jdk17;
    @Option(names = "--jdk25", paramLabel = "JAVA_HOME", description = "startup: a JDK 25, for the fast-jar and AOT modes")
    Path jdk25;
    @Option(names = "--runs", defaultValue = "5", description = "startup: starts per mode (default: ${DEFAULT-VALUE})")
    int runs;
    @Option(names = "--context", split = ",", paramLabel = "N",
            description = "instead: exact decoding's tokens/s after N-token prompts (d512 like the shipped model, and the embedded model) at --batches; e.g. 1024,8192,32768")
    int[] contexts;
    @Option(names = "--device", description = "instead: decode tokens/s on this device (cpu, cuda, cuda:N) at --batches, lazy mode")
    String device;
    @Option(names = "--dtype", defaultValue = "auto", description = "with --device: float32, float16 or auto (default: ${DEFAULT-VALUE})")
    String dtype;
    @Option(names = "--step-source", paramLabel = "DIR", description = "instead: the embedded model's step with the shipped program "
            + "alternated in one process with one whose source files are in DIR (the shipped file where DIR has none), at --batches: "
            + "ms per step of each and whether they sample the same tokens")
    Path stepSource;
    @Option(names = "--batches", split = ",", defaultValue = "1,8,64", description = "with --device, --context, --engine, --step-source: "
            + "batch sizes (default: ${DEFAULT-VALUE})")
    int[] batches;

    private final PrintStream out;

    public BenchCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() throws Exception {
        if (prefixCache) {
            Djl.sideThread(); // the engine's loop computes (Djl#sideThread)
            return PrefixBench.run(out, quick);
        }
        if (structuredOutput) {
            Djl.sideThread(); // the engine's loop computes (Djl#sideThread)
            return StructuredOutputBench.run(out, quick);
        }
        if (embeddings) {
            Djl.inferenceThread();
            return EmbeddingBench.run(out, quick);
        }
        if (prefill) {
            Djl.inferenceThread();
            return PrefillBench.run(out, quick);
        }
        if (frozen) {
            Djl.inferenceThread();
            return DecodeModeBench.run(out, quick);
        }
        if (engine) {
            return EngineBench.run(out, batches, quick);
        }
        if (startup) {
            if (app == null) {
                throw new IllegalArgumentException("--startup needs --app <target/quarkus-app>");
            }
            return StartupBench.run(app, aotApp, jdk17 == null ? Path.of(System.getProperty("java.home")) : jdk17, jdk25, runs, out);
        }
        if (ops) {
            Djl.inferenceThread();
            double peak = MatmulRate.peak(out);
            try (MoaModel embedded = MoaModel.loadEmbedded()) {
                operationsPerStep(out, "moa-shakespeare", embedded.weights(), quick, peak);
            }
            return 0;
        }
        if (trainCds && url != null) {
            out.printf("training requests sent: %d%n", CdsTraining.drive(java.net.URI.create(url)));
            return 0;
        }
        if (trainCds) {
            return CdsTraining.run(app == null ? Path.of("target", "quarkus-app") : app, out);
        }
        if (ttft) {
            return TtftBench.run(app == null ? Path.of("target", "quarkus-app") : app, out, quick);
        }
        if (scaleOut) {
            return ScaleOutBench.run(app == null ? Path.of("target", "quarkus-app") : app, command, settings, clients, window, out);
        }
        if (contexts != null) {
            return ContextBench.run(out, contexts, batches, quick);
        }
        if (stepSource != null) {
            return StepSourceBench.run(out, stepSource, batches, quick);
        }
        if (device != null) {
            Djl.inferenceThread();
            ai.djl.Device d = dev.moaserve.model.DeviceChoice.resolve(device);
            DeviceBench.run(out, d, dev.moaserve.model.DeviceChoice.dtype(dtype, d), batches, quick);
            return 0;
        }
        return decode(out, quick);
    }

    private static int decode(PrintStream out, boolean quick) {
        Djl.inferenceThread();
        out.printf(Locale.ROOT, "moa-serve decode benchmark (%s, %d cores, %s)%n", System.getProperty("os.arch"),
                Runtime.getRuntime().availableProcessors(), quick ? "quick" : "full");
        double peak = MatmulRate.peak(out);
        try (MoaModel embedded = MoaModel.loadEmbedded()) {
            out.printf(Locale.ROOT, "%n## moa-shakespeare (the embedded model): %s%n", describe(embedded.config()));
            modeSweep(out, "moa-shakespeare", embedded.weights(), quick, peak);
            operationsPerStep(out, "moa-shakespeare", embedded.weights(), quick, peak);
        }
        List<Case> cases = List.of(
                new Case("tiny", cfg(65, 64, 2, 4, 16, 16, 16, 8, 8, 2, SEQ), cfg(65, 64, 2, 4, 16, 4096, 16, 16, 8, 2, SEQ)),
                new Case("d512-L8-w64", cfg(256, 512, 8, 8, 64, 64, 64, 32, 64, 2, SEQ),
                        cfg(256, 512, 8, 8, 64, 4096, 16, 16, 64, 2, SEQ)));
        for (Case c : cases) {
            if (quick && c.name().equals("tiny")) {
                continue; // the embedded model already covers small, dispatch-bound shapes
            }
            try (NDManager m = Djl.newManager()) {
                MoaWeights moa = Init.random(c.moa(), m, 1);
                out.printf(Locale.ROOT, "%n## %s: %s%n", c.name(), describe(c.moa()));
                out.printf(Locale.ROOT, "state per sequence: MoA %d bytes (constant); dense KV cache at 4096: %d bytes%n",
                        DecodeState.bytesFor(c.moa()), 2L * 4 * c.dense().depth() * c.dense().inner() * 4096);
                if (!quick) {
                    fullForwardTimes(out, moa, false);
                    contextSweep(out, moa, Init.random(c.dense(), m, 1), false);
                }
                modeSweep(out, c.name(), moa, quick, peak);
                if (!quick) {
                    versusFullForward(out, moa, false);
                }
            }
        }
        return 0;
    }

    private record Case(String name, ModelConfig moa, ModelConfig dense) {}

    static ModelConfig cfg(int vocab, int dim, int depth, int heads, int dh, int local, int routed, int kq, int kkv,
                                   int experts, int seq) {
        return ModelConfig.builder().vocab(vocab).dim(dim).depth(depth).seqLen(seq).localWindow(local)
                .routedWindow(routed).routedQueries(kq).routedKeyValues(kkv).experts(experts).dimHead(dh)
                .heads(heads).ffMult(4).build();
    }

    private static String describe(ModelConfig c) {
        return String.format(Locale.ROOT, "dim %d, %d layers, %d heads x %d, W=%d, w=%d, k_q=%d, k_kv=%d, %d experts",
                c.dim(), c.depth(), c.heads(), c.dimHead(), c.localAttnWindowSize(), c.routedWindowSize(),
                c.numRoutedQueries(), c.numRoutedKeyValues(), c.numExperts());
    }

    /** Time of one full forward (the model's definition) on 1×128 and 8×128 tokens. */
    private static void fullForwardTimes(PrintStream out, MoaWeights w, boolean quick) {
        MoaModel model = MoaModel.of("bench", w, null, null);
        Random rnd = new Random(9);
        for (int b : new int[] {1, 8}) {
            long[][] tokens = new long[b][];
            for (int i = 0; i < b; i++) {
                tokens[i] = DecodePoints.randomTokens(rnd, 128, w.config().numTokens());
            }
            int reps = quick ? 5 : 20;
            model.forward(tokens, false);
            long t0 = System.nanoTime();
            for (int r = 0; r < reps; r++) {
                model.forward(tokens, false);
            }
            out.printf(Locale.ROOT, "full forward %dx128: %.2f ms%n", b, (System.nanoTime() - t0) / 1e6 / reps);
        }
    }

    /** Per-token time of one stream at three context lengths, MoA vs dense of equal size. */
    private static void contextSweep(PrintStream out, MoaWeights moa, MoaWeights dense, boolean quick) {
        int[] contexts = {128, 1024, 4096};
        int steps = quick ? 32 : 128;
        out.println("| context (prompt before the measured steps) | MoA ms/token | dense ms/token | MoA ratio vs 128 | dense ratio vs 128 |");
        out.println("|---|---|---|---|---|");
        perToken(moa, 64, steps); // JIT and allocator warm-up, not measured
        perToken(dense, 64, steps);
        double moaBase = 0;
        double denseBase = 0;
        for (int ctx : contexts) {
            double tm = perToken(moa, ctx, steps);
            double td = perToken(dense, ctx, steps);
            if (ctx == 128) {
                moaBase = tm;
                denseBase = td;
            }
            out.printf(Locale.ROOT, "| %d | %.2f | %.2f | %.2f | %.2f |%n", ctx, tm, td, tm / moaBase, td / denseBase);
        }
    }

    /** Mean ms per decode step, measured over {@code steps} steps right after a prompt of {@code prompt} tokens. */
    private static double perToken(MoaWeights w, int prompt, int steps) {
        Random rnd = new Random(3);
        long[] tokens = DecodePoints.randomTokens(rnd, Math.max(1, prompt), w.config().numTokens());
        return DecodePoints.run(w, List.of(tokens), steps, IncrementalDecoder.Recompute.LAZY, rnd).ms();
    }

    /**
     * Decode throughput of a staggered batch (each sequence at a different offset in its
     * routed window, as in the server) at B = 1, 8, 32, 64, lazy and full-window recompute
     * measured alternately in one process. Prints a table and one machine-readable line per point.
     */
    static void modeSweep(PrintStream out, String name, MoaWeights w, boolean quick, double peak) {
        boolean big = w.config().dim() >= 512;
        int steps = quick ? (big ? 6 : 24) : (big ? 32 : 96);
        int rounds = quick && big ? 1 : 2;
        // JIT and allocator warm-up of both modes, not measured: small models need a few hundred
        // steps before DJL's Java side is compiled and times settle
        int warmSteps = big ? 4 : 150;
        DecodePoints.measure(w, 8, warmSteps, IncrementalDecoder.Recompute.LAZY, quick);
        DecodePoints.measure(w, 8, warmSteps, IncrementalDecoder.Recompute.ALL, quick);
        double shapePeak = MatmulRate.shapePeak(w.config());
        out.printf(Locale.ROOT, "%nmatmul of the model's own feed-forward shape (512 x %d x %d) in this run: %.1f GFLOP/s "
                + "(the last column compares with it)%n", w.config().dim(), w.config().ffDim(), shapePeak);
        out.println();
        out.println("| batch | mode | ms/step | tokens/s | lazy speedup | rows/layer/step | arrays from Java/step | transfers/step | GFLOP/s | of 1024² peak | of own-shape matmul |");
        out.println("|---|---|---|---|---|---|---|---|---|---|---|");
        // quick: a d512 step at B = 64 takes seconds; its B = 64 point is in the full run only
        int[] batches = quick && big ? new int[] {1, 8, 32} : new int[] {1, 8, 32, 64};
        // lazy, the served mode, over as many steps as the peer times (../shared/peer: 128) and one
        // round more: a small model's 24 steps last ~30 ms at B = 1, within this machine's jitter
        int lazySteps = big ? steps : Math.max(steps, 128);
        int lazyRounds = big ? rounds : rounds + 1;
        for (int b : batches) {
            DecodePoints.Point lazy = null;
            DecodePoints.Point all = null;
            // alternate the modes, keep each one's best round: the machine's noise only slows things down
            for (int round = 0; round < lazyRounds; round++) {
                lazy = DecodePoints.Point.best(lazy, DecodePoints.measure(w, b, lazySteps, IncrementalDecoder.Recompute.LAZY, quick));
                if (round < rounds) {
                    all = DecodePoints.Point.best(all, DecodePoints.measure(w, b, steps, IncrementalDecoder.Recompute.ALL, quick));
                }
            }
            for (DecodePoints.Point p : new DecodePoints.Point[] {lazy, all}) {
                double gflops = p.flopsPerStep() / (p.ms() / 1000) / 1e9;
                out.printf(Locale.ROOT, "| %d | %s | %.2f | %.0f | %s | %.1f | %.0f | %.1f | %.1f | %.1f%% | %.1f%% |%n", b,
                        p.mode(), p.ms(), p.tokensPerS(), p == lazy ? String.format(Locale.ROOT, "%.2fx", all.ms() / lazy.ms()) : "",
                        p.rowsPerLayer(), p.ops(), p.transfers(), gflops, 100 * gflops / peak, 100 * gflops / shapePeak);
            }
            for (DecodePoints.Point p : new DecodePoints.Point[] {lazy, all}) {
                DecodePoints.printLine(out, name, b, p);
            }
        }
    }

    /**
     * What one step runs, at B = 1, 8 and 64 (lazy mode): the step program's operations by kind
     * ({@link OpProfile}, a routed window's steps profiled after the timed ones, so a window's
     * commit counts once per w steps, as it runs), the time per operation (the
     * unprofiled step's time over their number) and the step's arithmetic rate against the 1024²
     * matmul rate ({@code fraction_of_matmul_rate}): where a step is bound by its operations'
     * number rather than its arithmetic.
     */
    static void operationsPerStep(PrintStream out, String name, MoaWeights w, boolean quick, double peak) {
        int steps = quick ? 24 : 96;
        out.printf(Locale.ROOT, "%n### %s: operations per step (the step program's top-level aten operations, libtorch's profiler)%n%n", name);
        out.println("| batch | operations/step | matmul | elementwise | indexing | reduction | sort/top-k | other | µs/operation | ms/step | of 1024² matmul rate |");
        out.println("|---|---|---|---|---|---|---|---|---|---|---|");
        List<String> lines = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int b : new int[] {1, 8, 64}) {
            DecodePoints.Point p = DecodePoints.measure(w, b, steps, IncrementalDecoder.Recompute.LAZY, quick,
                    ai.djl.ndarray.types.DataType.FLOAT32, dev.moaserve.model.DecodeMode.EXACT, w.config().routedWindowSize());
            OpProfile.Counts ops = p.programOps();
            Map<OpProfile.Kind, Double> k = ops.perCall();
            double usPerOp = p.ms() * 1000 / ops.total();
            double fraction = p.flopsPerStep() / (p.ms() / 1000) / (peak * 1e9);
            out.printf(Locale.ROOT, "| %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.1f | %.2f | %.3f |%n", b, ops.total(),
                    k.getOrDefault(OpProfile.Kind.MATMUL, 0.0), k.getOrDefault(OpProfile.Kind.ELEMENTWISE, 0.0),
                    k.getOrDefault(OpProfile.Kind.INDEXING, 0.0), k.getOrDefault(OpProfile.Kind.REDUCTION, 0.0),
                    k.getOrDefault(OpProfile.Kind.SORT_TOPK, 0.0), k.getOrDefault(OpProfile.Kind.OTHER, 0.0), usPerOp, p.ms(), fraction);
            lines.add(String.format(Locale.ROOT, "ops config=%s batch=%d per_step=%.0f per_token=%.0f %s us_per_op=%.2f ms_per_step=%.3f "
                    + "fraction_of_matmul_rate=%.4f", name, b, ops.total(), ops.total() / b, ops.line(), usPerOp, p.ms(), fraction));
            names.add(String.format(Locale.ROOT, "ops_by_name config=%s batch=%d %s", name, b, ops.topNames(24)));
            names.add(String.format(Locale.ROOT, "ops_us_by_name config=%s batch=%d %s", name, b, ops.topTimes(16)));
        }
        lines.forEach(out::println);
        names.forEach(out::println);
    }

    /** The machine-readable line of one point. */
    private static void versusFullForward(PrintStream out, MoaWeights w, boolean quick) {
        int prompt = 192;
        int steps = quick ? 8 : 32;
        MoaModel model = MoaModel.of("bench", w, null, null);
        Random rnd = new Random(5);
        long[] seq = DecodePoints.randomTokens(rnd, prompt + steps, w.config().numTokens());
        for (int i = 0; i < 2; i++) {
            model.nextTokenLogits(java.util.Arrays.copyOf(seq, prompt)); // warm-up
        }
        long t0 = System.nanoTime();
        for (int t = 0; t < steps; t++) {
            model.nextTokenLogits(java.util.Arrays.copyOf(seq, prompt + t));
        }
        double full = (System.nanoTime() - t0) / 1e6 / steps;
        double inc = perToken(w, prompt, steps);
        out.printf(Locale.ROOT, "%nreference way (full forward per token, context ~%d): %.2f ms/token; incremental: %.2f ms/token; "
                + "speedup %.1fx%n", prompt, full, inc, full / inc);
    }
}

package dev.moaserve.cli;

import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import ai.djl.ndarray.types.DataType;
import dev.moaserve.model.DeviceChoice;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.Numerics;
import dev.moaserve.model.ReferenceVectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code verify <model-dir> <vectors.safetensors>}: proves a converted checkpoint against outputs of
 * the PyTorch reference. Prints one line
 * {@code max_abs_logits=<x> max_abs_hidden=<y> greedy_match=<g>/<G> incremental_greedy_match=<g>/<G>
 * max_abs_greedy_logits=<x>} and exits non-zero if a difference exceeds the tolerance or a greedy
 * token differs (by full forward on each prefix, or by incremental decoding).
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Prove a checkpoint computes what the PyTorch reference computed.",
                "Prints one line: max_abs_logits=<x> max_abs_hidden=<y> greedy_match=<g>/<G> incremental_greedy_match=<g>/<G> max_abs_greedy_logits=<x>",
                "and exits 1 if a difference exceeds 1e-4 or a greedy token differs, 2 on unusable input."})
public final class VerifyCommand implements Callable<Integer> {
    public static final double TOLERANCE = 1e-4;
    /** Tolerance of the incremental decoder's logits in float16 (HalfPrecisionTest measures ~1e-3). */
    public static final double HALF_TOLERANCE = 1e-2;
    /** The same with bfloat16 matmuls (3 fewer mantissa bits than float16: measured ~7e-3 on the tiny reference). */
    public static final double BFLOAT16_TOLERANCE = 5e-2;

    @Parameters(index = "0", paramLabel = "MODEL_DIR", description = "config.json + *.safetensors (+ tokenizer)")
    Path dir;

    @Parameters(index = "1", paramLabel = "VECTORS", description = "vectors.safetensors written by the reference")
    Path vectors;

    @Option(names = "--device", defaultValue = "cpu", description = "where the model runs: cpu, cuda, cuda:N, auto (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--dtype", defaultValue = "float32",
            description = "precision of the incremental decoder: float32, float16 (tolerance 1e-2 on its logits) or bfloat16 "
                    + "(5e-2); in half precision a greedy token may differ only where the reference's own margin is within "
                    + "twice the tolerance (a near-tie); the full forward stays float32 (default: ${DEFAULT-VALUE})")
    String dtype;

    private final PrintStream out;

    VerifyCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("model directory not found: " + dir);
        }
        if (!Files.isRegularFile(vectors)) {
            throw new IllegalArgumentException("vectors file not found: " + vectors);
        }
        ai.djl.Device d = DeviceChoice.resolve(device);
        DataType type = DeviceChoice.dtype(dtype, d);
        if (dev.moaserve.model.EncoderModel.isEncoder(dir)) {
            try (dev.moaserve.model.EncoderModel model = dev.moaserve.model.EncoderModel.load(dir, d)) {
                EncoderVerify.Result r = EncoderVerify.verify(model.weights(), dev.moaserve.model.Safetensors.open(vectors));
                out.println(r.line());
                return r.passed() ? 0 : 1;
            }
        }
        try (MoaModel model = MoaModel.load(dir, d)) {
            Result r = verify(model, ReferenceVectors.load(vectors), type);
            out.println(r.line());
            return r.passed() ? 0 : 1;
        }
    }

    /** Outcome of one verification. */
    public record Result(double maxAbsLogits, double maxAbsHidden, int greedyMatch, int greedyTotal,
                         int incrementalMatch, int incrementalNearTies, double maxAbsGreedyLogits, double decoderTolerance) {
        /** {@code incrementalNearTies}: differing tokens where the reference's margin was within 2× the tolerance (half precision only). */
        public boolean passed() {
            return maxAbsLogits <= TOLERANCE && maxAbsHidden <= TOLERANCE && greedyMatch == greedyTotal
                    && incrementalMatch + incrementalNearTies == greedyTotal && maxAbsGreedyLogits <= decoderTolerance;
        }

        public String line() {
            return String.format(Locale.ROOT, "max_abs_logits=%.3g max_abs_hidden=%.3g greedy_match=%d/%d "
                            + "incremental_greedy_match=%d/%d max_abs_greedy_logits=%.3g",
                    maxAbsLogits, maxAbsHidden, greedyMatch, greedyTotal, incrementalMatch, greedyTotal,
                    maxAbsGreedyLogits);
        }
    }

    private static void checkShapes(MoaModel model, ReferenceVectors ref) {
        int b = ref.tokens().length;
        int n = b == 0 ? 0 : ref.tokens()[0].length;
        int v = model.config().numTokens();
        int d = model.config().dim();
        if (ref.logits().length != (long) b * n * v) {
            throw new IllegalArgumentException("vectors do not fit this model: 'logits' has " + ref.logits().length
                    + " values, expected [" + b + ", " + n + ", " + v + "]");
        }
        if (ref.hidden().size() != model.config().depth()) {
            throw new IllegalArgumentException("vectors do not fit this model: " + ref.hidden().size()
                    + " hidden.<l> tensors for depth " + model.config().depth());
        }
        for (float[] h : ref.hidden()) {
            if (h.length != (long) b * n * d) {
                throw new IllegalArgumentException("vectors do not fit this model: a hidden.<l> tensor is not ["
                        + b + ", " + n + ", " + d + "]");
            }
        }
        if (ref.greedyLogits().length != (long) ref.greedy().length * v) {
            throw new IllegalArgumentException("vectors do not fit this model: 'greedy_logits' is not ["
                    + ref.greedy().length + ", " + v + "]");
        }
    }

    public static Result verify(MoaModel model, ReferenceVectors ref) {
        return verify(model, ref, DataType.FLOAT32);
    }

    /** {@code decoderType}: the incremental decoder's precision (half types are checked against their own tolerance). */
    public static Result verify(MoaModel model, ReferenceVectors ref, DataType decoderType) {
        double tolerance = decoderType == DataType.FLOAT32 ? TOLERANCE
                : decoderType == DataType.BFLOAT16 ? BFLOAT16_TOLERANCE : HALF_TOLERANCE;
        checkShapes(model, ref);
        MoaModel.Forward f = model.forward(ref.tokens(), true);
        double logits = 0;
        double hidden = 0;
        for (int b = 0; b < f.batch(); b++) {
            logits = Math.max(logits, Numerics.maxAbsDiff(f.logits()[b], ref.logits(), b * f.logits()[b].length));
            for (int l = 0; l < ref.hidden().size(); l++) {
                float[] mine = f.hidden()[l][b];
                hidden = Math.max(hidden, Numerics.maxAbsDiff(mine, ref.hidden().get(l), b * mine.length));
            }
        }
        // Each step: full forward on prompt + the reference's tokens so far (teacher forcing), so a
        // single near-tie cannot cascade; identical to free regeneration when every token matches.
        long[] seq = Arrays.copyOf(ref.prompt(), ref.prompt().length + ref.greedy().length);
        int v = model.config().numTokens();
        int match = 0;
        for (int t = 0; t < ref.greedy().length; t++) {
            float[] next = model.nextTokenLogits(Arrays.copyOf(seq, ref.prompt().length + t));
            if (Numerics.argmax(next, 0, v) == ref.greedy()[t]) {
                match++;
            }
            seq[ref.prompt().length + t] = ref.greedy()[t];
        }
        // The same continuation by incremental decoding (what serving runs), against greedy_logits.
        int incremental = 0;
        int nearTies = 0;
        double greedyLogits = 0;
        try (IncrementalDecoder dec = new IncrementalDecoder(model.weights(), 1, IncrementalDecoder.Recompute.LAZY, decoderType);
             DecodeState state = dec.newState()) {
            float[] next = dec.prefill(state, ref.prompt());
            for (int t = 0; t < ref.greedy().length; t++) {
                greedyLogits = Math.max(greedyLogits, Numerics.maxAbsDiff(next, ref.greedyLogits(), t * v));
                int mine = Numerics.argmax(next, 0, v);
                if (mine == ref.greedy()[t]) {
                    incremental++;
                } else if (decoderType != DataType.FLOAT32
                        && ref.greedyLogits()[t * v + (int) ref.greedy()[t]] - ref.greedyLogits()[t * v + mine] <= 2 * tolerance) {
                    nearTies++;
                }
                if (t + 1 < ref.greedy().length) {
                    next = dec.decode(List.of(state), new long[] {ref.greedy()[t]})[0];
                }
            }
        }
        return new Result(logits, hidden, match, ref.greedy().length, incremental, nearTies, greedyLogits, tolerance);
    }
}

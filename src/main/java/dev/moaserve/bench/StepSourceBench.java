package dev.moaserve.bench;

import ai.djl.ndarray.types.DataType;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.decode.SampleBatch;
import dev.moaserve.decode.StepProgram;
import dev.moaserve.engine.BatchSampler;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.model.Djl;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.MoaWeights;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * {@code bench --step-source DIR}: the embedded model's decode step with the shipped program and
 * with a changed one (its source files in DIR, the shipped ones where DIR has none), alternated in
 * one process on the same weights, prompts and tokens. Two processes on this kind of machine differ
 * by more than most changes to the program do; rounds that alternate, each program first in turn,
 * tell them apart. Prints per batch size the median and best round of each, and whether the two
 * sampled the same tokens at every step (greedy, in the step's call as the server samples).
 */
final class StepSourceBench {
    private StepSourceBench() {}

    static int run(PrintStream out, Path dir, int[] batches, boolean quick) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--step-source needs a directory of step program files: " + dir);
        }
        Djl.inferenceThread();
        int rounds = quick ? 3 : 10;
        int steps = quick ? 16 : 64;
        try (MoaModel model = MoaModel.loadEmbedded()) {
            for (int batch : batches) {
                compare(out, model.weights(), dir, batch, steps, rounds);
            }
        }
        return 0;
    }

    private static void compare(PrintStream out, MoaWeights w, Path dir, int batch, int steps, int rounds) {
        ModelConfig c = w.config();
        Random rnd = new Random(3);
        List<long[]> prompts = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            prompts.add(DecodePoints.randomTokens(rnd, 150 + (b * 7) % c.routedWindowSize(), c.numTokens()));
        }
        if (150 + c.routedWindowSize() + (rounds + 1) * steps > c.seqLen()) {
            throw new IllegalArgumentException("the rounds outgrow the model's context");
        }
        // [0]: shipped, [1]: the program from dir
        IncrementalDecoder[] dec = {
                new IncrementalDecoder(w, batch, IncrementalDecoder.Recompute.LAZY, DataType.FLOAT32),
                new IncrementalDecoder(w, batch, IncrementalDecoder.Recompute.LAZY, DataType.FLOAT32, StepProgram.fromSources(c, dir))};
        List<List<DecodeState>> states = List.of(new ArrayList<>(), new ArrayList<>());
        try {
            for (int k = 0; k < 2; k++) {
                for (int b = 0; b < batch; b++) {
                    states.get(k).add(dec[k].newState());
                }
                dec[k].prefill(states.get(k), prompts);
            }
            List<Sampler> samplers = new ArrayList<>();
            long[] index = new long[batch];
            for (int b = 0; b < batch; b++) {
                samplers.add(new Sampler(SamplingParams.greedy(1), c.numTokens(), 0));
                index[b] = b;
            }
            double[][] ms = new double[2][rounds];
            boolean sameTokens = true;
            for (int r = -1; r < rounds; r++) { // round -1 warms both up
                long[][] tokens = new long[2][];
                for (int i = 0; i < 2; i++) {
                    int k = (r & 1) == 0 ? i : 1 - i;
                    Random next = new Random(100 + r); // the same inputs for both
                    long[] sampled = new long[steps * batch];
                    long t0 = System.nanoTime();
                    for (int s = 0; s < steps; s++) {
                        List<long[]> appended = new ArrayList<>();
                        for (int b = 0; b < batch; b++) {
                            appended.add(new long[] {next.nextInt(c.numTokens())});
                        }
                        SampleBatch sampling = BatchSampler.prepare(samplers, index, c.numTokens());
                        Sampler.Choice[] picked = BatchSampler.finish(dec[k].stepAndSample(states.get(k), appended, sampling),
                                samplers, sampling, c.numTokens());
                        for (int b = 0; b < batch; b++) {
                            sampled[s * batch + b] = picked[b].token();
                        }
                    }
                    if (r >= 0) {
                        ms[k][r] = (System.nanoTime() - t0) / 1e6 / steps;
                    }
                    tokens[k] = sampled;
                }
                sameTokens &= Arrays.equals(tokens[0], tokens[1]);
            }
            double[] shipped = ms[0].clone();
            double[] given = ms[1].clone();
            Arrays.sort(shipped);
            Arrays.sort(given);
            double shippedMedian = shipped[rounds / 2];
            double givenMedian = given[rounds / 2];
            out.printf(Locale.ROOT, "step_source batch=%d steps=%d rounds=%d shipped_ms=%.3f source_ms=%.3f shipped_min_ms=%.3f "
                            + "source_min_ms=%.3f speedup=%.3f same_tokens=%b%n",
                    batch, steps, rounds, shippedMedian, givenMedian, shipped[0], given[0], shippedMedian / givenMedian, sameTokens);
        } finally {
            for (int k = 0; k < 2; k++) {
                states.get(k).forEach(DecodeState::close);
                dec[k].close();
            }
        }
    }
}

package dev.moaserve.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.model.Djl;
import dev.moaserve.model.ModelConfig;

import java.io.PrintStream;
import java.util.Locale;

/** The machine's matmul throughput, measured in the same run as a benchmark so its figures can be read against it. */
final class MatmulRate {
    private MatmulRate() {}

    /** The f32 throughput of a matmul of the model's own feed-forward shape, 512 rows. */
    static double shapePeak(ModelConfig c) {
        return matmulRate(512, c.dim(), c.ffDim());
    }

    /** DJL's f32 matmul throughput on this machine (1024²). */
    static double peak(PrintStream out) {
        double gflops = matmulRate(1024, 1024, 1024);
        out.printf(Locale.ROOT, "matmul 1024x1024 f32 peak: %.1f GFLOP/s%n", gflops);
        return gflops;
    }

    /** GFLOP/s of an [m, k] × [k, n] f32 matmul, best of 5. */
    private static double matmulRate(int m, int k, int n) {
        try (NDManager nd = Djl.newManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray a = nd.randomNormal(new Shape(m, k));
            NDArray b = nd.randomNormal(new Shape(k, n));
            double best = Double.MAX_VALUE;
            for (int i = 0; i < 5; i++) {
                long t0 = System.nanoTime();
                a.matMul(b).getFloat(0, 0);
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
            return 2.0 * m * k * n / best / 1e9;
        }
    }

}

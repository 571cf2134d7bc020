package dev.moaserve.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * What follows a backward pass over one parameter list: global-norm gradient clipping, the AdamW
 * update, and zeroing the gradients libtorch accumulates. Call inside the step's {@code NDScope}.
 */
final class GradientStep {
    private final List<NDArray> params;
    private final AdamW opt;
    private final PrintStream log;
    private List<NDArray> gradients;

    GradientStep(List<NDArray> params, AdamW opt, PrintStream log) {
        this.params = params;
        this.opt = opt;
        this.log = log;
    }

    /** Clips to {@code clip} and updates at {@code lr}; a non-finite gradient norm skips the update. */
    void apply(float lr, float clip) {
        if (gradients == null) {
            // One wrapper per parameter gradient, kept for the whole run: closing a wrapper
            // returned by getGradient() frees libtorch's .grad storage, and the next backward
            // then accumulates into freed memory (measured: NaN gradients at step 3).
            gradients = new ArrayList<>(params.size());
            for (NDArray p : params) {
                NDArray g = p.getGradient();
                NDScope.unregister(g);
                gradients.add(g);
            }
        }
        double sq = 0;
        for (NDArray g : gradients) {
            sq += g.square().sum().getFloat();
        }
        double norm = Math.sqrt(sq);
        if (!Double.isFinite(norm)) {
            log.println("non-finite gradient norm: step skipped");
        } else {
            float scale = norm > clip ? (float) (clip / norm) : 1f;
            List<NDArray> grads = new ArrayList<>(gradients);
            if (scale != 1f) {
                grads.replaceAll(g -> g.mul(scale));
            }
            opt.step(grads, lr);
        }
        for (NDArray g : gradients) {
            g.muli(0f); // gradients accumulate in libtorch: zero them for the next step
        }
    }
}

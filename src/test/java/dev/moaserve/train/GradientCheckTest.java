package dev.moaserve.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.moaserve.model.Djl;
import dev.moaserve.model.FullForward;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaWeights;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gradients of the training loss, checked per parameter tensor.
 *
 * <p>Every parameter except the routing tokens: the analytic gradient of the loss (routing fixed,
 * as it is for any infinitesimal change) along a random direction equals a central finite
 * difference. Routing tokens: the forward depends on them only through a discrete selection
 * (finite differences are 0); they learn through the straight-through coordinate-descent gates,
 * so the test asserts that the training forward gives them finite, non-zero gradients.
 */
class GradientCheckTest {
    /** Real routing choices (k_q < w, k_kv < context): for the straight-through check. */
    private static final ModelConfig CONFIG =
            ModelConfig.builder().vocab(11).dim(16).depth(2).seqLen(24).localWindow(4).routedWindow(6)
                    .routedQueries(3).routedKeyValues(5).experts(2).dimHead(4).heads(2).ffMult(2).build();
    /**
     * Every query and past token routed, so no selection can flip under a finite perturbation
     * and the loss is smooth in every parameter; the routed path (gathers, expert projections,
     * null K/V, scatter, null tokens in window 0's absence) is still fully exercised.
     */
    private static final ModelConfig SMOOTH =
            ModelConfig.builder().vocab(11).dim(16).depth(2).seqLen(24).localWindow(4).routedWindow(6)
                    .routedQueries(6).routedKeyValues(24).experts(2).dimHead(4).heads(2).ffMult(2).build();

    @Test
    void analyticGradientsMatchFiniteDifferences() {
        Random rnd = new Random(3);
        try (NDManager m = Djl.newManager()) {
            MoaWeights w = Init.random(SMOOTH, m, 9, 0.1f);
            NDArray[] xy = batch(m, rnd);
            Map<String, float[]> grads = gradients(w, m, xy, false, name -> !isRoutingToken(name));
            StringBuilder report = new StringBuilder();
            boolean ok = true;
            for (Map.Entry<String, float[]> e : grads.entrySet()) {
                float[] g = e.getValue();
                float[] dir = new float[g.length];
                double analytic = 0;
                for (int i = 0; i < dir.length; i++) {
                    dir[i] = (float) rnd.nextGaussian();
                    analytic += g[i] * dir[i];
                }
                NDArray p = w.params().get(e.getKey());
                double h = 1e-2;
                double fd = (loss(w, m, xy, p, dir, h) - loss(w, m, xy, p, dir, -h)) / (2 * h);
                double err = Math.abs(fd - analytic) / Math.max(1e-3, Math.abs(analytic));
                report.append(String.format("%s: analytic %.5g fd %.5g rel %.2g%n", e.getKey(), analytic, fd, err));
                ok &= err < 2e-2;
            }
            assertTrue(ok, report.toString());
        }
    }

    @Test
    void routingTokensLearnThroughTheStraightThroughGates() {
        try (NDManager m = Djl.newManager()) {
            MoaWeights w = Init.random(CONFIG, m, 9, 0.1f);
            Map<String, float[]> grads = gradients(w, m, batch(m, new Random(4)), true, n -> true);
            for (Map.Entry<String, float[]> e : grads.entrySet()) {
                double norm = 0;
                for (float v : e.getValue()) {
                    assertTrue(Float.isFinite(v), e.getKey() + " has a non-finite gradient");
                    norm += v * v;
                }
                if (isRoutingToken(e.getKey())) {
                    assertTrue(norm > 0, e.getKey() + " gets no gradient");
                }
            }
        }
    }

    private static boolean isRoutingToken(String name) {
        return name.endsWith("routing_token");
    }

    private static NDArray[] batch(NDManager m, Random rnd) {
        long[] x = new long[2 * 24];
        long[] y = new long[2 * 24];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextInt(11);
            y[i] = rnd.nextInt(11);
        }
        return new NDArray[] {m.create(x, new Shape(2, 24)), m.create(y, new Shape(2, 24))};
    }

    private static Map<String, float[]> gradients(MoaWeights w, NDManager m, NDArray[] xy, boolean train,
                                                  Predicate<String> which) {
        Map<String, float[]> grads = new LinkedHashMap<>();
        w.params().forEach((name, p) -> p.setRequiresGradient(which.test(name)));
        try (NDScope scope = new NDScope(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            scope.suppressNotUsedWarning();
            w.derive();
            gc.backward(Trainer.crossEntropy(FullForward.logits(w, m, xy[0], null, train), xy[1], w.config().numTokens()));
            w.params().forEach((name, p) -> {
                if (which.test(name)) {
                    grads.put(name, p.getGradient().toFloatArray());
                }
            });
        }
        w.params().values().forEach(p -> p.setRequiresGradient(false));
        return grads;
    }

    private static double loss(MoaWeights w, NDManager m, NDArray[] xy, NDArray p, float[] dir, double h) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray delta = m.create(dir, p.getShape()).mul((float) h);
            p.addi(delta);
            w.derive();
            double l = Trainer.crossEntropy(FullForward.logits(w, m, xy[0], null, false), xy[1], w.config().numTokens()).getFloat();
            p.subi(delta);
            return l;
        }
    }
}

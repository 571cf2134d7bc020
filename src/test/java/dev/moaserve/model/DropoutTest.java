package dev.moaserve.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Inverted dropout: the rate, the scale of what is kept, the gradient, and reproducible masks. */
class DropoutTest {
    private static NDManager m;

    @BeforeAll
    static void engine() {
        Djl.engine();
        m = Djl.newManager();
    }

    @AfterAll
    static void close() {
        m.close();
    }

    @Test
    void dropsAtTheRateAndScalesTheRest() {
        Engine.getInstance().setRandomSeed(3);
        float[] y = Dropout.of(0.25f).apply(m, m.ones(new Shape(200_000))).toFloatArray();
        int zeros = 0;
        double sum = 0;
        for (float v : y) {
            if (v == 0f) {
                zeros++;
            } else {
                assertEquals(1f / 0.75f, v, 1e-6f);
            }
            sum += v;
        }
        assertEquals(0.25, zeros / (double) y.length, 0.005);
        assertEquals(1.0, sum / y.length, 0.01, "the expected value is kept");
    }

    @Test
    void theGradientIsTheMask() {
        NDArray x = m.randomNormal(new Shape(64, 32));
        x.setRequiresGradient(true);
        Engine.getInstance().setRandomSeed(5);
        float[] y;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray out = Dropout.of(0.5f).apply(m, x);
            y = out.toFloatArray();
            gc.backward(out.sum());
        }
        float[] g = x.getGradient().toFloatArray();
        float[] xs = x.toFloatArray();
        for (int i = 0; i < g.length; i++) {
            // a kept element passes 1/(1−p) = 2 of the gradient, a dropped one none
            assertEquals(y[i] == 0f ? 0f : 2f, g[i], 1e-6f, "element " + i + " of " + xs[i]);
        }
        x.setRequiresGradient(false);
    }

    @Test
    void theSameSeedDrawsTheSameMask() {
        NDArray x = m.ones(new Shape(4096));
        Engine.getInstance().setRandomSeed(11);
        float[] a = Dropout.of(0.3f).apply(m, x).toFloatArray();
        Engine.getInstance().setRandomSeed(11);
        float[] b = Dropout.of(0.3f).apply(m, x).toFloatArray();
        Engine.getInstance().setRandomSeed(12);
        float[] c = Dropout.of(0.3f).apply(m, x).toFloatArray();
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, c));
    }

    @Test
    void noneIsTheIdentityAndOnlyValidRatesAreTaken() {
        NDArray x = m.ones(new Shape(3));
        assertSame(x, Dropout.NONE.apply(m, x));
        assertSame(Dropout.NONE, Dropout.of(0f));
        assertThrows(IllegalArgumentException.class, () -> Dropout.of(1f));
        assertThrows(IllegalArgumentException.class, () -> Dropout.of(-0.1f));
    }
}

package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/**
 * Training-time (inverted) dropout: each element is zeroed with probability p and the rest are
 * scaled by 1/(1−p), so the expected value is unchanged and inference uses the weights as they
 * are. Masks come from the engine's generator: a trainer that seeds it before each step draws
 * the same masks again when the run is resumed.
 */
public final class Dropout {
    /** No dropout: {@link #apply} returns its input. */
    public static final Dropout NONE = new Dropout(0f);

    private final float p;

    private Dropout(float p) {
        this.p = p;
    }

    /** Dropout with probability {@code p} in [0, 1). */
    public static Dropout of(float p) {
        if (p < 0 || p >= 1) {
            throw new IllegalArgumentException("dropout must lie in [0, 1), got " + p);
        }
        return p == 0 ? NONE : new Dropout(p);
    }

    /** x with elements dropped: any shape → the same shape; {@code m} receives the mask. */
    public NDArray apply(NDManager m, NDArray x) {
        if (p == 0) {
            return x;
        }
        // The mask needs no gradient, so scaling it by a plain scalar is safe (Ops.scalar's trap
        // is a scalar that autograd keeps for backward).
        NDArray keep = m.randomUniform(0f, 1f, x.getShape()).gte(p).toType(DataType.FLOAT32, false).mul(1f / (1f - p));
        return x.mul(keep);
    }
}

package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding, "rotate halves" form: {@code x·cos(θp) + rotate_half(x)·sin(θp)}.
 *
 * <p>Angles are computed in double precision from the float32 frequencies, so rotating q and k
 * by absolute positions gives the same attention scores as the reference's relative rotation
 * (q·R(i)ᵀR(j)·k depends on i − j only) without float32 angle error at large positions.
 * {@code rotate_half} is a fixed signed permutation, applied as one matmul.
 */
public final class Rope {
    private final NDArray cos;        // [S, dh]
    private final NDArray sin;        // [S, dh]
    private final NDArray rotateHalf; // [dh, dh]: x·R == cat(-x2, x1)
    private final float[] cosHost;
    private final float[] sinHost;
    private final int dimHead;

    Rope(NDManager manager, int maxLen, int dimHead, float[] invFreq) {
        this.dimHead = dimHead;
        int half = dimHead / 2;
        float[] f = invFreq != null ? invFreq : defaultInvFreq(dimHead);
        cosHost = new float[maxLen * dimHead];
        sinHost = new float[maxLen * dimHead];
        for (int p = 0; p < maxLen; p++) {
            for (int j = 0; j < dimHead; j++) {
                double angle = p * (double) f[j % half];
                cosHost[p * dimHead + j] = (float) Math.cos(angle);
                sinHost[p * dimHead + j] = (float) Math.sin(angle);
            }
        }
        cos = manager.create(cosHost, new Shape(maxLen, dimHead));
        sin = manager.create(sinHost, new Shape(maxLen, dimHead));
        float[] r = new float[dimHead * dimHead];
        for (int j = 0; j < half; j++) {
            r[(j + half) * dimHead + j] = -1f;
            r[j * dimHead + j + half] = 1f;
        }
        rotateHalf = manager.create(r, new Shape(dimHead, dimHead));
    }

    /** torch: {@code 1 / (10000 ** (arange(0, dh, 2).float() / dh))}, in float32. */
    static float[] defaultInvFreq(int dimHead) {
        float[] f = new float[dimHead / 2];
        for (int j = 0; j < f.length; j++) {
            f[j] = (float) (1.0 / Math.pow(10000.0, (float) (2 * j) / (float) dimHead));
        }
        return f;
    }

    /** [S, dh] table of cos(θ·p). */
    public NDArray cos() {
        return cos;
    }

    /** [S, dh] table of sin(θ·p). */
    public NDArray sin() {
        return sin;
    }

    /** Host copies of the tables, row p at offset p·dh. */
    public float[] cosHost() {
        return cosHost;
    }

    public float[] sinHost() {
        return sinHost;
    }

    public int dimHead() {
        return dimHead;
    }

    /** x: [..., T, dh]; cos, sin: broadcastable to x. */
    public NDArray apply(NDArray x, NDArray cos, NDArray sin) {
        return x.mul(cos).add(x.matMul(rotateHalf).mul(sin));
    }
}

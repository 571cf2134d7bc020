package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.norm.LayerNorm;

/** Small tensor functions shared by the full forward, the incremental decoder and training. */
public final class Ops {
    /** Additive mask value: exp(NEG - max) is exactly 0, and it never overflows to -inf. */
    public static final float NEG = -1e30f;

    private Ops() {}

    /**
     * A scalar tensor on {@code like}'s manager, for arithmetic that autograd may need later.
     * DJL's {@code x.mul(Number)} builds the scalar from a direct buffer and closes it at once,
     * but torch keeps that scalar in the graph for the backward of mul/div/pow/maximum; once the
     * buffer is collected, backward reads freed memory (measured: NaN gradients after a few
     * training steps, at once with System.gc()). This scalar lives until its scope closes.
     */
    public static NDArray scalar(NDArray like, float value) {
        return like.getManager().create(value);
    }

    /** x · v, safe under autograd (see {@link #scalar}). */
    public static NDArray times(NDArray x, float v) {
        return x.mul(scalar(x, v));
    }

    /**
     * F.normalize(x, dim=-1): x / max(‖x‖₂, 1e-12), computed as x·max(Σx², 1e-24)^-½ so that the
     * gradient at an all-zero row is 0 rather than NaN (norm's backward divides by ‖x‖).
     */
    public static NDArray l2normalize(NDArray x) {
        int last = x.getShape().dimension() - 1;
        NDArray sq = x.square().sum(new int[] {last}, true);
        return x.mul(sq.maximum(scalar(x, 1e-24f)).pow(scalar(x, -0.5f)));
    }

    /** The reference RMSNorm: normalize · √D · gamma. */
    public static NDArray rmsNorm(NDArray x, NDArray gamma) {
        long d = x.getShape().get(x.getShape().dimension() - 1);
        return times(l2normalize(x), (float) Math.sqrt(d)).mul(gamma);
    }

    /** nn.LayerNorm(D), eps 1e-5, with bias. */
    public static NDArray layerNorm(NDArray x, NDArray weight, NDArray bias) {
        long d = x.getShape().get(x.getShape().dimension() - 1);
        return LayerNorm.layerNorm(x, new Shape(d), weight, bias, 1e-5f).singletonOrThrow();
    }

    /** Feed-forward block (without the residual): Linear(GELU(Linear(RMSNorm(x)))). */
    public static NDArray feedForward(MoaWeights.Layer w, NDArray x) {
        NDArray hidden = rmsNorm(x, w.ffGamma()).matMul(w.ff1T()).add(w.ff1Bias());
        return Activation.gelu(hidden).matMul(w.ff2T()).add(w.ff2Bias());
    }

    /** Final RMSNorm and the vocabulary projection: [..., D] → [..., V]. */
    public static NDArray logits(MoaWeights w, NDArray h) {
        return rmsNorm(h, w.finalGamma()).matMul(w.logitsT()).add(w.logitsBias());
    }

    /** Routing logits s = cos(h, token)·scale (or h·token): h [..., T, D], tokens [G, D] → [..., T, G]. */
    public static NDArray routingScores(ModelConfig c, NDArray h, NDArray tokens) {
        if (!c.cosineSimRouting()) {
            return h.matMul(tokens.transpose());
        }
        return times(l2normalize(h).matMul(l2normalize(tokens).transpose()), (float) c.cosineSimScale());
    }

    /** [A, B, ..., T, H·dh] → [..., H, T, dh] for a 3-D input [M, T, H·dh] → [M, H, T, dh]. */
    public static NDArray splitHeads(NDArray x, int heads) {
        Shape s = x.getShape();
        int n = s.dimension();
        long[] dims = new long[n + 1];
        for (int i = 0; i < n - 1; i++) {
            dims[i] = s.get(i);
        }
        dims[n - 1] = heads;
        dims[n] = s.get(n - 1) / heads;
        int[] axes = new int[n + 1];
        for (int i = 0; i < n - 2; i++) {
            axes[i] = i;
        }
        axes[n - 2] = n - 1;
        axes[n - 1] = n - 2;
        axes[n] = n;
        return x.reshape(dims).transpose(axes);
    }

    /** Inverse of {@link #splitHeads}: [..., H, T, dh] → [..., T, H·dh]. */
    public static NDArray mergeHeads(NDArray x) {
        Shape s = x.getShape();
        int n = s.dimension();
        int[] axes = new int[n];
        for (int i = 0; i < n - 3; i++) {
            axes[i] = i;
        }
        axes[n - 3] = n - 2;
        axes[n - 2] = n - 3;
        axes[n - 1] = n - 1;
        long[] dims = new long[n - 1];
        for (int i = 0; i < n - 3; i++) {
            dims[i] = s.get(i);
        }
        dims[n - 3] = s.get(n - 2);
        dims[n - 2] = s.get(n - 3) * s.get(n - 1);
        return x.transpose(axes).reshape(dims);
    }

    /** softmax(q·kᵀ·scale + bias)·v over the last two axes. */
    public static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray bias, float scale) {
        int n = k.getShape().dimension();
        NDArray scores = times(q.matMul(k.swapAxes(n - 2, n - 1)), scale);
        if (bias != null) {
            scores = scores.add(bias);
        }
        return scores.softmax(-1).matMul(v);
    }
}

package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/**
 * The CoLT5 router's coordinate descent with ε-scaling (Wright et al.; colt5_attention.coor_descent):
 * soft top-k scores in [0, 1] whose gradients reach the routing tokens during training. At
 * inference the canonical rule selects by the raw logits and the gate value is 1, so this is
 * only used by the training forward.
 */
public final class CoordinateDescent {
    private CoordinateDescent() {}

    /**
     * @param s    [..., n] routing logits
     * @param mask [..., n] 1 for valid tokens, 0 for masked (broadcastable to s)
     * @param k    target number of tokens (k·fetch_k_ratio, at most n)
     * @return [..., n] scores, 0 where masked
     */
    public static NDArray scores(ModelConfig c, NDArray s, NDArray mask, double k) {
        int last = s.getShape().dimension() - 1;
        NDArray negMask = mask.neg().add(1f).mul(Ops.NEG);
        s = s.mul(mask).add(negMask);
        float logK = (float) Math.log(Math.max(k, 1e-20));
        NDArray a = null;
        NDArray b = s.neg();
        double eps = Math.max(c.routerEpsInit(), c.routerEps());
        for (int i = 0; i < c.routerNIters(); i++) {
            NDArray sb = Ops.times(s.add(b), (float) (1 / eps)).add(negMask);
            // The dual variable is held constant in backward: differentiating through all the
            // ε-scaled iterations overflows in float32 within a few training steps (measured:
            // NaN gradients at step 3 of the shipped config). Forward values are unchanged.
            a = logSumExp(sb, last).neg().add(logK).mul((float) eps).stopGradient();
            b = Activation.relu(s.add(a)).neg();
            eps = Math.max(eps * c.routerEpsDecay(), c.routerEps());
        }
        return Ops.times(s.add(a).add(b), (float) (1 / eps)).exp().mul(mask);
    }

    /** log Σ exp(x) over one axis, keeping it: the max is shifted out (and held constant). */
    static NDArray logSumExp(NDArray x, int axis) {
        NDArray max = x.max(new int[] {axis}, true).stopGradient();
        return x.sub(max).exp().sum(new int[] {axis}, true).log().add(max);
    }

    /** {@code c + (1 − c).detach()}: value 1, gradient of c (the reference's straight-through gate). */
    public static NDArray straightThrough(NDArray c) {
        return c.add(c.neg().add(1f).stopGradient());
    }
}

package dev.moaserve.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.ArrayList;
import java.util.List;

/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter) with in-place NDArray updates. Weight decay
 * applies to matrices only (dim ≥ 2), as nanoGPT does; gains, biases and vectors are not decayed.
 */
final class AdamW {
    private final List<NDArray> params;
    private final List<NDArray> m = new ArrayList<>();
    private final List<NDArray> v = new ArrayList<>();
    private final boolean[] decay;
    private final float beta1;
    private final float beta2;
    private final float eps = 1e-8f;
    private final float weightDecay;
    private int t;

    AdamW(List<NDArray> params, NDManager manager, float beta1, float beta2, float weightDecay) {
        this.params = params;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.weightDecay = weightDecay;
        this.decay = new boolean[params.size()];
        for (int i = 0; i < params.size(); i++) {
            NDArray p = params.get(i);
            m.add(manager.zeros(p.getShape()));
            v.add(manager.zeros(p.getShape()));
            decay[i] = p.getShape().dimension() >= 2 && !p.getName().endsWith("null_kv")
                    && !p.getName().endsWith("gamma");
        }
    }

    /** First moment of parameter i (a checkpoint saves and restores it in place). */
    NDArray m(int i) {
        return m.get(i);
    }

    /** Second moment of parameter i. */
    NDArray v(int i) {
        return v.get(i);
    }

    int steps() {
        return t;
    }

    /** Continues the bias correction of a restored run. */
    void steps(int t) {
        this.t = t;
    }

    /** One update with gradients already scaled (clipping); call inside an NDScope. */
    void step(List<NDArray> grads, float lr) {
        t++;
        float c1 = 1 - (float) Math.pow(beta1, t);
        float c2 = 1 - (float) Math.pow(beta2, t);
        for (int i = 0; i < params.size(); i++) {
            NDArray p = params.get(i);
            NDArray g = grads.get(i);
            m.get(i).muli(beta1).addi(g.mul(1 - beta1));
            v.get(i).muli(beta2).addi(g.square().mul(1 - beta2));
            if (decay[i]) {
                p.muli(1 - lr * weightDecay);
            }
            NDArray update = m.get(i).div(c1).div(v.get(i).div(c2).sqrt().add(eps)).mul(lr);
            p.subi(update);
        }
    }
}

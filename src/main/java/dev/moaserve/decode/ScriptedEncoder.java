package dev.moaserve.decode;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaWeights;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A MoA encoder's forward as one call of a TorchScript program ({@code encoder_forward.py}),
 * written and compiled once per model: what embeddings run for an encoder, one call per
 * micro-batch. The weights go in as one list, in {@link Slot}'s order, named in the program by
 * the same slots; the computation is {@link dev.moaserve.model.EncoderForward}'s (inference).
 */
public final class ScriptedEncoder implements AutoCloseable {
    static final String SOURCE = "encoder_forward.py";
    private static final String CLASS = "EncoderForward";

    /** Model-wide weights, at the head of the list. */
    enum Model {
        TOKEN_EMB, POS_EMB, COS, SIN, FINAL_GAMMA
    }

    /** Each layer's weights, after the model-wide ones, layer after layer. */
    enum Slot {
        LOCAL_LN_WEIGHT, LOCAL_LN_BIAS, LOCAL_QKV, LOCAL_OUT, QUERY_TOKENS, KV_TOKENS, QUERY_GAMMA, CONTEXT_GAMMA,
        TO_Q, TO_KV, TO_OUT, NULL_K, NULL_V, NULL_ROUTED, FF_GAMMA, FF1, FF1_BIAS, FF2, FF2_BIAS
    }

    private final PtSymbolBlock module;
    private final IValue weights;
    private final NDManager manager;

    public ScriptedEncoder(EncoderWeights w) {
        this.manager = w.manager().newSubManager();
        ModelConfig c = w.config().shape();
        ScriptArchive archive = new ScriptArchive(CLASS, ScriptArchive.resource(ScriptedEncoder.class, SOURCE)).withShape(c)
                .with("routed_queries", c.numRoutedQueries())
                .with("local", w.config().localAttn())
                .with("attention_scale", 1.0 / Math.sqrt(c.dimHead()))
                .with("root_dim", Math.sqrt(c.dim()));
        for (Model s : Model.values()) {
            archive.with("w_" + s.name().toLowerCase(Locale.ROOT), s.ordinal());
        }
        archive.with("w_first_layer", Model.values().length).with("w_per_layer", Slot.values().length);
        for (Slot s : Slot.values()) {
            archive.with("w_" + s.name().toLowerCase(Locale.ROOT), s.ordinal());
        }
        try {
            module = archive.load(manager, "the encoder program");
        } catch (IllegalStateException e) {
            manager.close();
            throw e;
        }
        weights = IValue.listFrom(arguments(w).stream().map(a -> (PtNDArray) a).toArray(PtNDArray[]::new));
    }

    /** The weights in {@link Model} then per layer {@link Slot} order; absent parts as a zero placeholder. */
    private List<NDArray> arguments(EncoderWeights w) {
        int dh = w.config().shape().dimHead();
        NDArray sign = manager.create(rollSign(dh));
        NDArray none = manager.zeros(new ai.djl.ndarray.types.Shape(1));
        List<NDArray> all = new ArrayList<>();
        for (Model s : Model.values()) {
            all.add(switch (s) {
                case TOKEN_EMB -> w.tokenEmb();
                case POS_EMB -> w.posEmb();
                case COS -> w.rope().cos();
                case SIN -> w.rope().sin().mul(sign);
                case FINAL_GAMMA -> w.finalGamma();
            });
        }
        for (int l = 0; l < w.config().shape().depth(); l++) {
            EncoderWeights.Mixture m = w.layer(l);
            MoaWeights.Layer x = m.w();
            for (Slot s : Slot.values()) {
                NDArray a = switch (s) {
                    case LOCAL_LN_WEIGHT -> x.localNormWeight();
                    case LOCAL_LN_BIAS -> x.localNormBias();
                    case LOCAL_QKV -> x.localQkvT();
                    case LOCAL_OUT -> x.localOutT();
                    case QUERY_TOKENS -> x.queryRouting();
                    case KV_TOKENS -> x.kvRouting();
                    case QUERY_GAMMA -> x.queryGamma();
                    case CONTEXT_GAMMA -> x.contextGamma();
                    case TO_Q -> x.toQ();
                    case TO_KV -> x.toKv();
                    case TO_OUT -> x.toOut();
                    case NULL_K -> x.nullK();
                    case NULL_V -> x.nullV();
                    case NULL_ROUTED -> m.nullRouted();
                    case FF_GAMMA -> x.ffGamma();
                    case FF1 -> x.ff1T();
                    case FF1_BIAS -> x.ff1Bias();
                    case FF2 -> x.ff2T();
                    case FF2_BIAS -> x.ff2Bias();
                };
                all.add(a == null ? none : a);
            }
        }
        return all;
    }

    /** rotate_half(x) = roll(x, dh/2) · sign: −1 on the first half, +1 on the second. */
    private static float[] rollSign(int dh) {
        float[] s = new float[dh];
        for (int j = 0; j < dh; j++) {
            s[j] = j < dh / 2 ? -1f : 1f;
        }
        return s;
    }

    /**
     * The final normed hidden states of right-padded rows: ids [B, N] int64, {@code lengths[b]}
     * real tokens in row b → [B, N, D] float32 in {@code m} (padded positions meaningless).
     */
    public NDArray hidden(NDManager m, NDArray ids, int[] lengths) {
        long[] l = new long[lengths.length];
        for (int i = 0; i < l.length; i++) {
            l[i] = lengths[i];
        }
        try (NDArray lens = m.create(l); IValue a = IValue.from((PtNDArray) ids); IValue b = IValue.from((PtNDArray) lens);
             IValue out = IValueUtils.runMethod(module, "hidden", weights, a, b)) {
            return out.toTensor((PtNDManager) m);
        }
    }

    @Override
    public void close() {
        weights.close();
        module.close();
        manager.close();
    }
}

package dev.moaserve.decode;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The names of what crosses the border between Java and the step program ({@code decode_step.py}):
 * the weights' and the state pool's slots, the step's integers and the sections of its arrays, the
 * sampler's integers, each defined
 * once, here (the sampler's in {@link SampleBatch.Meta}).
 * The archive carries them as attributes ({@code w_<slot>} and {@code p_<slot>}, with where the
 * per-layer slots start and how many a layer has), so the program reads
 * {@code wts[lw + self.w_query_tokens]}, never an offset written in two languages;
 * {@link DecodeWeights} and {@link StatePool} build their lists by walking the same enums.
 */
final class StepSlots {
    private StepSlots() {}

    /** Model-wide weights, at the head of the weight list. */
    enum Model {
        TOKEN_EMB(false), POS_EMB(false), ROPE_QKV(false), LOGITS(true), LOGITS_BIAS(true);

        /** Multiplied by a matmul: cast to bfloat16 under {@code moa.dtype=bfloat16}. */
        final boolean matmul;

        Model(boolean matmul) {
            this.matmul = matmul;
        }
    }

    /** Each layer's weights, after the model-wide ones, layer after layer. */
    enum Layer {
        LN_WEIGHT(false), LN_BIAS(false), LOCAL_IN(true), LOCAL_OUT(true), QUERY_TOKENS(false), KV_TOKENS(false),
        ROUTED_Q(true), ROUTED_KV(true), ROUTED_OUT(true), NULL_TOKENS(false), NULL_K(false), NULL_V(false),
        FF1(true), FF1_BIAS(true), FF2(true), FF2_BIAS(true);

        final boolean matmul;

        Layer(boolean matmul) {
            this.matmul = matmul;
        }
    }

    /** Model-wide state, at the head of the pool list. */
    enum Pool {
        RING_POS
    }

    /** Each layer's state, after the model-wide one, layer after layer. */
    enum PoolLayer {
        K, V, WIN_H, WIN_SEL, ROUTED_K, ROUTED_V, ROUTED_BIAS, ROUTED_SCORE, WIN_LOGIT
    }

    /** The step's integers ({@link StepPlan}), in this order. */
    enum Plan {
        BATCH,          // B running slots stepped
        NEW_TOKENS,     // n new tokens
        COMMITS,        // c slots whose window completes
        SEQUENCES,      // S sequences whose logits come out
        CACHED,         // 1: no earlier row can change (every expert routes every filled row)
        ANY_ROUTED,     // 1: some slot is past window 0
        FIXED_ROWS,     // T rows per slot of a plan fixed by the host; 0: the program plans lazily
        ANY_FROZEN,     // 1: some slot decodes frozen
        DENSE,          // 1: the fixed plan is dense (row i of slot b at b*T + i, every slot T rows)
        LAST_IS_PLAN,   // 1: the sequences' last rows are the fixed plan, in its order
        FROZEN_ONLY     // 1: every slot that takes tokens is frozen (each layer routes the new rows only)
    }

    /** The step's float array, section after section ({@link StepPlan}). */
    enum Floats {
        VALID,          // [B, w] 1: the window row holds a token
        QUERY_POSITION, // [B, w] the row's absolute position
        NEW_ROWS,       // [B, w] 1: the row is new in this step
        ROUTED_FLAG,    // [B]    1: the slot is past window 0
        FROZEN          // [B]    1: the slot decodes frozen
    }

    /** The step's int64 array, section after section ({@link StepPlan}). */
    enum Ids {
        TOKENS,         // [n] the new tokens
        WINDOW_ROWS,    // [n] their window rows, b*w + t
        POSITIONS,      // [n] their absolute positions
        RING_ROWS,      // [n] their ring rows, b*R + position % R
        COMMITS,        // [c] slots whose window completes
        LAST_ROWS,      // [S] each sequence's last new row, b*w + t
        FIXED_ROWS,     // [mf] the host's fixed plan: rows b*w + t (empty when the program plans)
        FIXED_PLACES    // [mf] their places in the [B, T] attention layout
    }

    /**
     * Where each section of the step's arrays starts: the plan's integers carry, after the
     * {@link Plan} fields, each array's section bounds (sections + 1 offsets), so the program cuts
     * {@code f} and {@code ids} by name.
     */
    static final int FLOAT_BOUNDS = Plan.values().length;
    static final int ID_BOUNDS = FLOAT_BOUNDS + Floats.values().length + 1;
    static final int PLAN_INTEGERS = ID_BOUNDS + Ids.values().length + 1;

    /** The slots as the program's attributes. */
    static ScriptArchive declare(ScriptArchive a) {
        for (Model s : Model.values()) {
            a.with("w_" + name(s), s.ordinal());
        }
        a.with("w_first_layer", Model.values().length).with("w_per_layer", Layer.values().length);
        for (Layer s : Layer.values()) {
            a.with("w_" + name(s), s.ordinal());
        }
        for (Pool s : Pool.values()) {
            a.with("p_" + name(s), s.ordinal());
        }
        a.with("p_first_layer", Pool.values().length).with("p_per_layer", PoolLayer.values().length);
        for (PoolLayer s : PoolLayer.values()) {
            a.with("p_" + name(s), s.ordinal());
        }
        for (Plan s : Plan.values()) {
            a.with("m_" + name(s), s.ordinal());
        }
        a.with("m_float_bounds", FLOAT_BOUNDS).with("m_id_bounds", ID_BOUNDS).with("m_plan_integers", PLAN_INTEGERS);
        for (Floats s : Floats.values()) {
            a.with("f_" + name(s), s.ordinal());
        }
        for (Ids s : Ids.values()) {
            a.with("i_" + name(s), s.ordinal());
        }
        for (SampleBatch.Meta s : SampleBatch.Meta.values()) {
            a.with("s_" + name(s), s.ordinal());
        }
        return a;
    }

    /** Indices in the weight list of the weights matmuls multiply by, for a model of {@code depth} layers. */
    static long[] matmulWeights(int depth) {
        List<Long> at = new ArrayList<>();
        for (Model s : Model.values()) {
            if (s.matmul) {
                at.add((long) s.ordinal());
            }
        }
        for (int l = 0; l < depth; l++) {
            for (Layer s : Layer.values()) {
                if (s.matmul) {
                    at.add((long) Model.values().length + (long) l * Layer.values().length + s.ordinal());
                }
            }
        }
        return at.stream().mapToLong(Long::longValue).toArray();
    }

    private static String name(Enum<?> slot) {
        return slot.name().toLowerCase(Locale.ROOT);
    }
}

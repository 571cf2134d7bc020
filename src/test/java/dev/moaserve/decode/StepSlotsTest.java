package dev.moaserve.decode;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The slots named in {@link StepSlots} reach the step program where the Java side means them:
 * for every layer, what the program reads as {@code wts[lw + self.w_query_tokens]} (and every
 * other {@code w_…}, {@code p_…} name) is the tensor {@link DecodeWeights} and {@link StatePool}
 * hold in the field of that meaning (mapped here by hand, not through the lists' builders), one
 * program slot per name; and each layer's row of the stacked state the program commits windows
 * on is that layer's state.
 */
class StepSlotsTest {
    @Test
    void everyNamedSlotIsWhereJavaMeansIt() {
        Djl.inferenceThread();
        ModelConfig c = ModelConfig.builder().vocab(19).dim(16).depth(3).seqLen(64).localWindow(6).routedWindow(8)
                .routedQueries(3).routedKeyValues(5).experts(2).dimHead(4).heads(2).ffMult(2).build();
        try (NDManager m = Djl.newManager(); IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 4));
             DecodeState s = dec.newState()) {
            dec.prefill(s, new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}); // a state that is not all zeros
            for (int layer = 0; layer < c.depth(); layer++) {
                Map<String, NDArray> java = byMeaning(dec.decodeWeights(), dec.statePool(), layer);
                List<String> names = new ArrayList<>(java.keySet());
                try (NDManager mm = m.newSubManager()) {
                    NDArray[] program = dec.programSlots(layer, mm);
                    assertEquals(names.size(), program.length, "one program slot per name");
                    for (int i = 0; i < program.length; i++) {
                        String at = "layer " + layer + ", " + names.get(i);
                        NDArray want = java.get(names.get(i));
                        assertEquals(want.getShape(), program[i].getShape(), at);
                        assertArrayEquals(want.toType(DataType.FLOAT32, false).toFloatArray(),
                                program[i].toType(DataType.FLOAT32, false).toFloatArray(), at);
                    }
                }
            }
        }
    }

    /**
     * The sections of a step's arrays, cut by the program by name ({@code self.i_last_rows} …),
     * hold what they mean for a plan worked out by hand: window 8, ring 12, three slots.
     * Slot 0 takes tokens 5, 6 at offsets 1–2 of window 0; slot 1 takes token 7 at offset 7 of
     * its second window (positions 8–15), which completes it; slot 2 takes nothing. Frozen: slot 1.
     */
    @Test
    void everyArraySectionIsWhereJavaMeansIt() {
        Djl.inferenceThread();
        ModelConfig c = ModelConfig.builder().vocab(19).dim(16).depth(1).seqLen(64).localWindow(4).routedWindow(8)
                .routedQueries(8).routedKeyValues(5).experts(2).dimHead(4).heads(2).ffMult(2).build();
        long[][] add = {{5, 6}, {7}, null};
        int[] start = {0, 8, 16};
        int[] fill = {1, 7, 3};
        boolean[] frozen = {false, true, false};
        int[] last = {0, 1};
        StepPlan plan = new StepPlan(8, 12, 8, false, add, start, fill, frozen, last);
        try (NDManager m = Djl.newManager(); IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 4))) {
            NDArray[] got = dec.programSections(plan, m);
            assertEquals(StepSlots.Floats.values().length + StepSlots.Ids.values().length, got.length);
            float[] valid = new float[24];
            float[] qpos = new float[24];
            float[] fresh = new float[24];
            for (int t = 0; t < 8; t++) {
                valid[t] = t < 3 ? 1 : 0;
                valid[8 + t] = 1;
                valid[16 + t] = t < 3 ? 1 : 0;
                qpos[t] = t;
                qpos[8 + t] = 8 + t;
                qpos[16 + t] = 16 + t;
                fresh[t] = t == 1 || t == 2 ? 1 : 0;
                fresh[8 + t] = t == 7 ? 1 : 0;
            }
            assertArrayEquals(valid, got[StepSlots.Floats.VALID.ordinal()].toFloatArray(), "valid");
            assertArrayEquals(qpos, got[StepSlots.Floats.QUERY_POSITION.ordinal()].toFloatArray(), "query_position");
            assertArrayEquals(fresh, got[StepSlots.Floats.NEW_ROWS.ordinal()].toFloatArray(), "new_rows");
            assertArrayEquals(new float[] {0, 1, 1}, got[StepSlots.Floats.ROUTED_FLAG.ordinal()].toFloatArray(), "routed_flag");
            assertArrayEquals(new float[] {0, 1, 0}, got[StepSlots.Floats.FROZEN.ordinal()].toFloatArray(), "frozen");
            int ids = StepSlots.Floats.values().length;
            assertArrayEquals(new long[] {5, 6, 7}, got[ids + StepSlots.Ids.TOKENS.ordinal()].toLongArray(), "tokens");
            assertArrayEquals(new long[] {1, 2, 15}, got[ids + StepSlots.Ids.WINDOW_ROWS.ordinal()].toLongArray(), "window_rows");
            assertArrayEquals(new long[] {1, 2, 15}, got[ids + StepSlots.Ids.POSITIONS.ordinal()].toLongArray(), "positions");
            assertArrayEquals(new long[] {1, 2, 12 + 15 % 12}, got[ids + StepSlots.Ids.RING_ROWS.ordinal()].toLongArray(), "ring_rows");
            assertArrayEquals(new long[] {1}, got[ids + StepSlots.Ids.COMMITS.ordinal()].toLongArray(), "commits");
            assertArrayEquals(new long[] {2, 15}, got[ids + StepSlots.Ids.LAST_ROWS.ordinal()].toLongArray(), "last_rows");
            // k_q = w: a cached step, so the host fixes the plan: the new rows, at places b*T + i (T = 2)
            assertArrayEquals(new long[] {1, 2, 15}, got[ids + StepSlots.Ids.FIXED_ROWS.ordinal()].toLongArray(), "fixed_rows");
            assertArrayEquals(new long[] {0, 1, 2}, got[ids + StepSlots.Ids.FIXED_PLACES.ordinal()].toLongArray(), "fixed_places");
        }
    }

    /** The Java side's tensors by what they mean, in StepSlots' order (model, layer, pool, pool layer). */
    private static Map<String, NDArray> byMeaning(DecodeWeights w, StatePool p, int l) {
        DecodeWeights.Layer lw = w.layers[l];
        StatePool.Layer lp = p.layers[l];
        Map<String, NDArray> m = new LinkedHashMap<>();
        m.put("token_emb", w.tokenEmb);
        m.put("pos_emb", w.posEmb);
        m.put("rope_qkv", w.ropeQkv);
        m.put("logits", w.logits);
        m.put("logits_bias", w.logitsBias);
        m.put("ln_weight", lw.lnWeight());
        m.put("ln_bias", lw.lnBias());
        m.put("local_in", lw.localIn());
        m.put("local_out", lw.localOut());
        m.put("query_tokens", lw.queryTokensT());
        m.put("kv_tokens", lw.kvTokensT());
        m.put("routed_q", lw.routedQ());
        m.put("routed_kv", lw.routedKv());
        m.put("routed_out", lw.routedOut());
        m.put("null_tokens", lw.nullTokens());
        m.put("null_k", lw.nullK());
        m.put("null_v", lw.nullV());
        m.put("ff1", lw.ff1());
        m.put("ff1_bias", lw.ff1Bias());
        m.put("ff2", lw.ff2());
        m.put("ff2_bias", lw.ff2Bias());
        m.put("ring_pos", p.ringPos);
        m.put("k", lp.k);
        m.put("v", lp.v);
        m.put("win_h", lp.winH);
        m.put("win_sel", lp.winSel);
        m.put("routed_k", lp.routedK);
        m.put("routed_v", lp.routedV);
        m.put("routed_bias", lp.routedBias);
        m.put("routed_score", lp.routedScore);
        m.put("win_logit", lp.winLogit);
        // every layer's state at once, as a window's commit reads and writes it: layer l's row is its state
        for (StepSlots.PoolLayer kind : StepSlots.PoolLayer.values()) {
            m.put("stacked " + kind, lp.get(kind));
        }
        return m;
    }
}

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
 * program slot per name.
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

    /** The Java side's tensors by what they mean, in StepSlots' order (model, layer, pool, pool layer). */
    private static Map<String, NDArray> byMeaning(DecodeWeights w, StatePool p, int l) {
        DecodeWeights.Layer lw = w.layers[l];
        StatePool.Layer lp = p.layers[l];
        Map<String, NDArray> m = new LinkedHashMap<>();
        m.put("token_emb", w.tokenEmb);
        m.put("pos_emb", w.posEmb);
        m.put("rope", w.rope);
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
        return m;
    }
}

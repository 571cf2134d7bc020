package dev.moaserve.decode;

import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.Numerics;
import dev.moaserve.model.ReferenceVectors;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** 10,000 batched decode steps, with sequences joining and leaving, leave no native arrays behind. */
class DecodeMemoryTest {
    private static final ModelConfig TINY = ModelConfig.builder().vocab(13).dim(16).depth(2).seqLen(64).localWindow(4).routedWindow(4)
            .routedQueries(2).routedKeyValues(3).experts(2).dimHead(4).heads(2).ffMult(2).build();

    /** A pool the device cannot hold fails with what was asked for, and frees what it had (no native leak). */
    @Test
    void aPoolTooLargeForTheDeviceFailsClearly() throws Exception {
        ModelConfig c = TINY;
        try (NDManager m = Djl.newManager()) {
            var weights = Init.random(c, m, 5);
            long baseline = liveArrays(m);
            int slots = Integer.MAX_VALUE / 2; // the very first pool tensor exceeds any machine's memory
            PoolAllocationException e = org.junit.jupiter.api.Assertions.assertThrows(
                    PoolAllocationException.class,
                    () -> new IncrementalDecoder(weights, slots, IncrementalDecoder.Recompute.LAZY));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().startsWith("cannot allocate the decode-state pool on cpu()")
                    && e.getMessage().contains(slots + " slots"), e.getMessage());
            assertEquals(baseline, liveArrays(m), "the failed decoder's arrays were freed");
        }
    }

    /**
     * The pool's memory is allocated uninitialised: whatever it held before (here NaN in every
     * entry of every slot, as reused memory may) must not reach a sequence that takes a slot,
     * whose logits equal a fresh decoder's bit for bit, step after step.
     */
    @Test
    void aSlotsFirstUseIgnoresWhatItsMemoryHeld() throws Exception {
        ModelConfig c = TINY;
        try (NDManager m = Djl.newManager()) {
            var weights = Init.random(c, m, 7);
            IncrementalDecoder poisoned = new IncrementalDecoder(weights, 3, IncrementalDecoder.Recompute.LAZY);
            IncrementalDecoder clean = new IncrementalDecoder(weights, 3, IncrementalDecoder.Recompute.LAZY);
            for (NDArray t : poisoned.pool().tensors()) {
                t.set(new ai.djl.ndarray.index.NDIndex(":"), Float.NaN);
            }
            List<DecodeState> a = new ArrayList<>();
            List<DecodeState> b = new ArrayList<>();
            for (int i = 0; i < 5; i++) { // beyond the 3 slots: the grown pool's new slots too
                long[] prompt = {1, 2 + i, 3, 4, 5, 6 + i};
                a.add(poisoned.newState());
                b.add(clean.newState());
                org.junit.jupiter.api.Assertions.assertArrayEquals(clean.prefill(b.get(i), prompt), poisoned.prefill(a.get(i), prompt));
            }
            for (int step = 0; step < 12; step++) {
                long[] toks = new long[a.size()];
                java.util.Arrays.fill(toks, 1 + step % 11);
                float[][] want = clean.decode(b, toks);
                float[][] got = poisoned.decode(a, toks);
                for (int r = 0; r < want.length; r++) {
                    org.junit.jupiter.api.Assertions.assertArrayEquals(want[r], got[r], "step " + step + ", row " + r);
                }
            }
        }
    }

    @Test
    void noNativeArraysAccumulateOverTenThousandSteps() throws Exception {
        ModelConfig c = TINY;
        try (NDManager m = Djl.newManager()) {
            IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 5));
            long baseline = liveArrays(m);
            List<DecodeState> running = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                running.add(dec.newState());
                dec.prefill(running.get(i), new long[] {1, 2, 3, i});
            }
            long arraysAtWarmup = 0;
            long rssAtWarmup = 0;
            for (int step = 1; step <= 10_000; step++) {
                long[] toks = new long[running.size()];
                for (int i = 0; i < toks.length; i++) {
                    toks[i] = (step + i) % c.numTokens();
                }
                dec.decode(running, toks);
                // a sequence that reaches the context limit leaves; a new one joins with a prompt
                for (int i = 0; i < running.size(); i++) {
                    if (running.get(i).length() >= c.seqLen()) {
                        running.get(i).close();
                        DecodeState fresh = dec.newState();
                        dec.prefill(fresh, new long[] {(long) i, 5, 7});
                        running.set(i, fresh);
                    }
                }
                if (step == 1000) {
                    arraysAtWarmup = liveArrays(m);
                    rssAtWarmup = rssKb();
                }
            }
            long arrays = liveArrays(m);
            System.out.printf("live arrays after warm-up=%d after 10000 steps=%d; RSS %d kB -> %d kB%n",
                    arraysAtWarmup, arrays, rssAtWarmup, rssKb());
            assertEquals(arraysAtWarmup, arrays, "native arrays accumulated");
            running.forEach(DecodeState::close);
            assertEquals(baseline, liveArrays(m), "closing the states frees everything they held");
        }
    }

    /** Arrays of the weight manager's tree (weights, derived views, every sequence's state). */
    static long liveArrays(NDManager manager) throws Exception {
        Field f = BaseNDManager.class.getDeclaredField("resources");
        f.setAccessible(true);
        long n = 0;
        for (Object r : ((Map<?, ?>) f.get(manager)).values()) {
            if (r instanceof NDArray) {
                n++;
            } else if (r instanceof NDManager sub) {
                n += liveArrays(sub);
            }
        }
        return n;
    }

    private static long rssKb() throws Exception {
        Path status = Path.of("/proc/self/status");
        if (!Files.exists(status)) {
            return -1;
        }
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}

package dev.moaserve.engine;

import ai.djl.ndarray.NDManager;
import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.Numerics;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A request served from a prefix snapshot computes exactly what it would from scratch: random
 * configs and prompts that share random prefixes, split points on, just before and just after
 * routed-window boundaries; logits within 1e-5 at the first token and over a greedy continuation;
 * seeded requests through the scheduler give the same tokens with the cache on and off.
 */
class PrefixCacheTest {
    private static final double TOL = 1e-5;

    @Test
    void snapshotsContinueExactlyOnRandomConfigs() {
        Random rnd = new Random(11);
        for (int trial = 0; trial < 5; trial++) {
            int w = 2 + rnd.nextInt(6);
            int kq = trial % 2 == 0 ? 1 + rnd.nextInt(w) : w + 1;
            ModelConfig c = ModelConfig.builder().vocab(19).dim(16).depth(1 + rnd.nextInt(2)).seqLen(12 * w + 8)
                    .localWindow(1 + rnd.nextInt(8)).routedWindow(w).routedQueries(kq)
                    .routedKeyValues(1 + rnd.nextInt(2 * w)).experts(1 + rnd.nextInt(3)).dimHead(4)
                    .heads(1 + rnd.nextInt(2)).ffMult(2).cosineRouting(rnd.nextBoolean()).build();
            try (NDManager m = Djl.newManager()) {
                IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 100 + trial, 0.1f), 4,
                        trial % 3 == 2 ? IncrementalDecoder.Recompute.ALL : IncrementalDecoder.Recompute.LAZY);
                PrefixCache cache = new PrefixCache(new DecoderRunner(dec), 64 * dec.bytesPerSequence());
                long[] shared = random(rnd, c, 6 * w);
                for (int q = 0; q < 12; q++) {
                    // a prompt: a random share of the common prefix (on, next to, or between boundaries), then its own tokens
                    int keep = switch (q % 4) {
                        case 0 -> (1 + rnd.nextInt(5)) * w;        // exactly on a boundary
                        case 1 -> (1 + rnd.nextInt(5)) * w - 1;    // just before one
                        case 2 -> (1 + rnd.nextInt(5)) * w + 1;    // just after one
                        default -> 1 + rnd.nextInt(6 * w);
                    };
                    long[] own = random(rnd, c, rnd.nextInt(2 * w + 1));
                    long[] prompt = concat(Arrays.copyOf(shared, keep), own);
                    checkHitEqualsScratch(dec, cache, prompt, w, c, rnd);
                }
                assertTrue(cache.hits() > 0, "no prompt hit the cache in trial " + trial);
                cache.close();
                dec.close();
            }
        }
    }

    /** Serves {@code prompt} from the cache (if it hits) and from scratch; compares; then offers its boundaries. */
    private static void checkHitEqualsScratch(IncrementalDecoder dec, PrefixCache cache, long[] prompt, int w, ModelConfig c,
                                              Random rnd) {
        PrefixCache.Hit hit = cache.lookup(prompt);
        try (DecodeState scratch = dec.newState();
             DecodeState served = hit == null ? dec.newState() : dec.fork(DecoderRunner.decodeState(hit.state()))) {
            if (hit != null) {
                assertEquals(0, hit.length() % w);
                assertTrue(hit.length() < prompt.length, "a hit must leave the last prompt token to feed");
                assertEquals(hit.length(), served.length());
            }
            int from = hit == null ? 0 : hit.length();
            // scratch: fed window by window, offering every boundary it passes
            float[] want = null;
            for (int at = 0; at < prompt.length; ) {
                int n = Math.min(dec.roomInWindow(scratch), prompt.length - at);
                want = dec.step(List.of(scratch), List.of(Arrays.copyOfRange(prompt, at, at + n)))[0];
                at += n;
                if (scratch.windowFill() == 0) {
                    cache.offer(prompt, at, DecoderRunner.wrap(scratch));
                }
            }
            float[] got = dec.prefill(served, Arrays.copyOfRange(prompt, from, prompt.length));
            assertTrue(Numerics.maxAbsDiff(want, got, 0) <= TOL, "first logits differ after a hit at " + from);
            for (int t = 0; t < 2 * w && prompt.length + t < c.seqLen(); t++) {
                long next = Numerics.argmax(want, 0, c.numTokens());
                assertEquals(next, Numerics.argmax(got, 0, c.numTokens()), "greedy token " + t);
                want = dec.decode(List.of(scratch), new long[] {next})[0];
                got = dec.decode(List.of(served), new long[] {next})[0];
                assertTrue(Numerics.maxAbsDiff(want, got, 0) <= TOL, "logits differ " + t + " tokens after a hit at " + from);
            }
        }
    }

    @Test
    void lookupTakesTheLongestVerifiedBoundaryAndEvictsLeastRecentlyUsed() {
        ModelConfig c = ModelConfig.builder().vocab(19).dim(16).depth(1).seqLen(200).localWindow(4).routedWindow(4)
                .routedQueries(2).routedKeyValues(3).experts(2).dimHead(4).heads(1).ffMult(2).build();
        try (NDManager m = Djl.newManager()) {
            IncrementalDecoder dec = new IncrementalDecoder(Init.random(c, m, 5, 0.1f), 2, IncrementalDecoder.Recompute.LAZY);
            PrefixCache cache = new PrefixCache(new DecoderRunner(dec), 2 * dec.bytesPerSequence()); // room for two snapshots
            long[] a = random(new Random(1), c, 12);
            try (DecodeState s = dec.newState()) {
                dec.prefill(s, Arrays.copyOf(a, 4));
                cache.offer(a, 4, DecoderRunner.wrap(s));
                dec.prefill(s, Arrays.copyOfRange(a, 4, 8));
                cache.offer(a, 8, DecoderRunner.wrap(s));
                assertThrows(IllegalArgumentException.class, () -> dec.step(List.of(DecoderRunner.decodeState(cache.lookup(a).state())), List.of(new long[] {1})),
                        "a snapshot must not be stepped");
            }
            assertEquals(8, cache.lookup(a).length());                       // the longest boundary < 12
            assertNull(cache.lookup(a, dev.moaserve.model.DecodeMode.FROZEN)); // an exact state never serves a frozen request
            assertEquals(4, cache.lookup(Arrays.copyOf(a, 8)).length());     // 8 would leave nothing to feed
            assertNull(cache.lookup(Arrays.copyOf(a, 4)));
            long[] b = a.clone();
            b[5] = (b[5] + 1) % c.numTokens();                              // differs inside the second window
            assertEquals(4, cache.lookup(b).length());
            long[] other = random(new Random(2), c, 9);
            try (DecodeState s = dec.newState()) {
                dec.prefill(s, Arrays.copyOf(other, 4));
                cache.offer(other, 4, DecoderRunner.wrap(s));                                   // evicts the least recently used (a[0,8))
            }
            assertEquals(2, cache.size());
            assertEquals(4, cache.lookup(a).length());
            assertNotNull(cache.lookup(other));
            assertTrue(cache.hits() >= 5 && cache.hitTokens() > 0);
            cache.close();
            assertEquals(0, cache.size());
            dec.close();
        }
    }

    /** Seeded requests through the scheduler: the same tokens with the cache on (second request hits) and off. */
    @Test
    void seededRequestsGiveTheSameTokensFromTheCache() throws Exception {
        try (MoaModel model = MoaModel.loadEmbedded();
             IncrementalDecoder decoder = new IncrementalDecoder(model.weights(), 8, IncrementalDecoder.Recompute.LAZY)) {
            long[] prompt = model.tokenizer().encode("First Citizen:\nBefore we proceed any further, hear me speak.\n"
                    + "All:\nSpeak, speak.\nFirst Citizen:\nYou are");
            SamplingParams p = SamplingParams.builder().temperature(0.9).topP(0.95).seed(5L).maxTokens(40).build();
            List<Integer> off;
            try (EngineLoop loop = EngineLoop.start(new Scheduler(new DecoderRunner(decoder), model.tokenizer(), new Scheduler.Limits(8, 512, 16, 0, 0), EngineStats.NONE))) {
                Scheduler s = loop.scheduler();
                off = run(s, prompt, p).get(120, TimeUnit.SECONDS).tokens();
            }
            try (EngineLoop loop = EngineLoop.start(new Scheduler(new DecoderRunner(decoder), model.tokenizer(),
                    new Scheduler.Limits(8, 512, 16, 0, 32 * decoder.bytesPerSequence()), EngineStats.NONE))) {
                Scheduler s = loop.scheduler();
                Collect.Result first = run(s, prompt, p).get(120, TimeUnit.SECONDS);
                Collect.Result second = run(s, prompt, p).get(120, TimeUnit.SECONDS);
                assertEquals(0, first.cached());
                assertEquals((prompt.length - 1) / 32 * 32, second.cached(), "the second request should start from the cache");
                assertEquals(off, first.tokens());
                assertEquals(off, second.tokens());
                // n = 3: choice 0 is the request itself, the forks sample with their own seeds
                List<CompletableFuture<Collect.Result>> group = group(s, prompt, p, 3);
                assertEquals(off, group.get(0).get(120, TimeUnit.SECONDS).tokens());
                for (int i = 1; i < 3; i++) {
                    Collect.Result fork = group.get(i).get(120, TimeUnit.SECONDS);
                    Collect.Result alone = run(s, prompt, p.withSeed(5L + i)).get(120, TimeUnit.SECONDS);
                    assertEquals(alone.tokens(), fork.tokens(), "fork " + i);
                    assertTrue(fork.cached() > 0, "fork " + i + " should start from its leader's state");
                }
            }
        }
    }

    private static CompletableFuture<Collect.Result> run(Scheduler s, long[] prompt, SamplingParams p) {
        return Collect.one(s, prompt, p);
    }

    private static List<CompletableFuture<Collect.Result>> group(Scheduler s, long[] prompt, SamplingParams p, int n) {
        List<SamplingParams> params = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            params.add(i == 0 ? p : p.withSeed(p.seed() + i));
        }
        return Collect.choices(s, prompt, params);
    }

    private static long[] random(Random rnd, ModelConfig c, int n) {
        long[] t = new long[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(c.numTokens());
        }
        return t;
    }

    private static long[] concat(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

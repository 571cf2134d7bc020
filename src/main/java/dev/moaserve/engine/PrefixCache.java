package dev.moaserve.engine;

import dev.moaserve.model.DecodeMode;

import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A bounded LRU of decode-state snapshots at routed-window boundaries, keyed by the token prefix
 * before the boundary. MoA's per-sequence state has a constant size, so a snapshot (one slot copy
 * on the device) replaces re-running its whole prefix. Boundaries are where a window has just been
 * committed; a request takes the longest cached boundary prefix of its prompt and feeds the rest
 * (at least its last token, whose logits it needs). Hits are verified token by token, never
 * trusted to the hash. Used by the engine loop's thread only.
 */
public final class PrefixCache implements AutoCloseable {
    /** A cached prefix a prompt starts with: fork {@code state}, then feed the prompt from {@code length}. */
    public record Hit(StepRunner.State state, int length) {}

    private record Key(long hash, int length, DecodeMode mode) {}

    private record Entry(long[] tokens, StepRunner.State state) {}

    private final StepRunner runner;
    private final int window;
    private final int maxEntries;
    private final LinkedHashMap<Key, Entry> entries = new LinkedHashMap<>(16, 0.75f, true); // access order = LRU
    /** Boundaries of prompts fed a window prefill (no state): where a later prompt's prefix is shared. */
    private final LinkedHashMap<Key, Boolean> seen = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Boolean> eldest) {
            return size() > SEEN_BOUNDARIES;
        }
    };
    private static final int SEEN_BOUNDARIES = 8192;
    private volatile long queries;   // written by the engine loop only, read by metrics
    private volatile long hits;
    private volatile long hitTokens;
    private volatile int size;

    /** @param bytes budget for snapshots (each holds one sequence's state); 0 disables the cache */
    public PrefixCache(StepRunner runner, long bytes) {
        this.runner = runner;
        this.window = runner.window();
        this.maxEntries = (int) Math.min(Integer.MAX_VALUE, bytes / runner.bytesPerSequence());
    }

    public boolean enabled() {
        return maxEntries > 0;
    }

    /** {@link #lookup(long[], DecodeMode)} for an exactly decoded prompt. */
    public Hit lookup(long[] prompt) {
        return lookup(prompt, DecodeMode.EXACT);
    }

    /**
     * The longest cached boundary prefix of {@code prompt} shorter than the prompt, decoded in
     * {@code mode} (a frozen and an exact state of the same prefix differ), or null.
     */
    public Hit lookup(long[] prompt, DecodeMode mode) {
        if (!enabled()) {
            return null;
        }
        queries = queries + 1;
        long[] hashes = boundaryHashes(prompt, prompt.length - 1);
        for (int i = hashes.length - 1; i >= 0; i--) {
            int b = (i + 1) * window;
            Entry e = entries.get(new Key(hashes[i], b, mode));
            if (e != null && Arrays.equals(e.tokens, 0, b, prompt, 0, b)) {
                hits = hits + 1;
                hitTokens = hitTokens + b;
                return new Hit(e.state, b);
            }
        }
        return null;
    }

    /**
     * A window prefill computes the state at one boundary only, so a prompt that shares a prefix
     * with an earlier one (a system prompt, a conversation so far) would leave no snapshot where
     * the two part. This is the longest boundary of {@code prompt} (before its last token) that an
     * earlier window-prefilled prompt also had, by hash, or 0: prefilling only up to it leaves a
     * snapshot there that later prompts share (the rest goes through steps, which snapshot every
     * boundary). A hash collision only moves where the prefill stops; outputs stay exact.
     */
    public int sharedBoundary(long[] prompt, DecodeMode mode) {
        if (!enabled()) {
            return 0;
        }
        long[] hashes = boundaryHashes(prompt, prompt.length - 1);
        for (int i = hashes.length - 1; i >= 0; i--) {
            if (seen.get(new Key(hashes[i], (i + 1) * window, mode)) != null) {
                return (i + 1) * window;
            }
        }
        return 0;
    }

    /** Remembers the boundaries of a prompt fed a window prefill (see {@link #sharedBoundary}). */
    public void noteBoundaries(long[] prompt, DecodeMode mode) {
        if (!enabled()) {
            return;
        }
        long[] hashes = boundaryHashes(prompt, prompt.length - 1);
        for (int i = 0; i < hashes.length; i++) {
            seen.put(new Key(hashes[i], (i + 1) * window, mode), Boolean.TRUE);
        }
    }

    /**
     * Offers the state of a sequence that has just consumed exactly {@code prompt[0, b)}, b a
     * boundary: snapshots it unless that prefix is cached already, evicting the least recently
     * used snapshot when full.
     */
    public void offer(long[] prompt, int b, StepRunner.State running) {
        if (!enabled() || b <= 0 || b % window != 0 || running.length() != b || running.windowFill() != 0) {
            return;
        }
        long[] hashes = boundaryHashes(prompt, b);
        Key key = new Key(hashes[hashes.length - 1], b, running.mode());
        Entry e = entries.get(key);
        if (e != null && Arrays.equals(e.tokens, 0, b, prompt, 0, b)) {
            return; // cached (and now most recently used)
        }
        if (e != null) {
            entries.remove(key).state.close(); // a hash collision: the newer prefix wins
        }
        while (entries.size() >= maxEntries) {
            Iterator<Map.Entry<Key, Entry>> it = entries.entrySet().iterator();
            it.next().getValue().state.close();
            it.remove();
        }
        entries.put(key, new Entry(Arrays.copyOf(prompt, b), runner.snapshot(running)));
        size = entries.size();
    }

    /** 64-bit FNV-style hashes of prompt[0, b) for every boundary b = window, 2·window, … ≤ {@code upTo}. */
    private long[] boundaryHashes(long[] prompt, int upTo) {
        long[] out = new long[Math.max(0, upTo / window)];
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < out.length * window; i++) {
            h = (h ^ prompt[i]) * 0x100000001b3L;
            if ((i + 1) % window == 0) {
                out[(i + 1) / window - 1] = h;
            }
        }
        return out;
    }

    public long queries() {
        return queries;
    }

    public long hits() {
        return hits;
    }

    public long hitTokens() {
        return hitTokens;
    }

    public int size() {
        return size;
    }

    public long bytes() {
        return (long) size * runner.bytesPerSequence();
    }

    @Override
    public void close() {
        entries.values().forEach(e -> e.state.close());
        entries.clear();
        seen.clear();
        size = 0;
    }
}

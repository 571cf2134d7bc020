package dev.moaserve.engine;

import dev.moaserve.model.DecodeMode;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A runner without a model, for the scheduler's tests: a state is the list of tokens it consumed,
 * and the "logits" of a state put all mass on one token that depends on every token consumed so
 * far (a rolling hash), so a fork, a cached prefix or a wrong chunk gives different tokens. It
 * records each step's chunk sizes and counts open states.
 */
final class FakeRunner implements StepRunner {
    final int window;
    final int vocab;
    /** Each step's chunk sizes, in the order the scheduler passed them. */
    final List<int[]> steps = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger open = new AtomicInteger();
    /** The next step throws (once) when set. */
    volatile boolean failNext;
    /** Feeds a fresh exact state's whole windows at admission, as the real runner does, when set. */
    volatile boolean wholeWindows;
    /** Tokens fed that way, one entry per call. */
    final List<Integer> windowPrefills = Collections.synchronizedList(new ArrayList<>());

    FakeRunner(int window, int vocab) {
        this.window = window;
        this.vocab = vocab;
    }

    final class FakeState implements State {
        final List<Long> tokens = new ArrayList<>();
        final DecodeMode mode;
        final boolean parked;
        boolean closed;

        FakeState(DecodeMode mode, boolean parked) {
            this.mode = mode;
            this.parked = parked;
            open.incrementAndGet();
        }

        @Override
        public int length() {
            return tokens.size();
        }

        @Override
        public int windowFill() {
            return tokens.size() % window;
        }

        @Override
        public DecodeMode mode() {
            return mode;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                open.decrementAndGet();
            }
        }
    }

    /** The token the fake model predicts after {@code tokens}. */
    int next(List<Long> tokens) {
        long h = 17;
        for (long t : tokens) {
            h = h * 31 + t;
        }
        return (int) Math.floorMod(h, (long) vocab);
    }

    @Override
    public int window() {
        return window;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public long bytesPerSequence() {
        return 1000;
    }

    @Override
    public State newState(DecodeMode mode) {
        return new FakeState(mode, false);
    }

    @Override
    public State fork(State s) {
        return copy((FakeState) s, false);
    }

    @Override
    public State snapshot(State s) {
        return copy((FakeState) s, true);
    }

    private FakeState copy(FakeState src, boolean parked) {
        FakeState copy = new FakeState(src.mode, parked);
        copy.tokens.addAll(src.tokens);
        return copy;
    }

    @Override
    public int prefillWindows(State s, long[] prompt) {
        int whole = (prompt.length - 1) / window * window;
        if (!wholeWindows || s.length() != 0 || s.mode() != DecodeMode.EXACT || whole < 2 * window) {
            return 0;
        }
        for (int i = 0; i < whole; i++) {
            ((FakeState) s).tokens.add(prompt[i]);
        }
        windowPrefills.add(whole);
        return whole;
    }

    @Override
    public int roomInWindow(State s) {
        return window - s.windowFill();
    }

    @Override
    public Sampler.Choice[] step(List<State> states, List<long[]> chunks, List<Sampler> samplers, long[] rows) {
        if (failNext) {
            failNext = false;
            throw new IllegalStateException("injected step failure");
        }
        int[] sizes = new int[chunks.size()];
        for (int i = 0; i < states.size(); i++) {
            FakeState s = (FakeState) states.get(i);
            if (s.closed || s.parked) {
                throw new IllegalArgumentException("stepped a closed or parked state");
            }
            if (chunks.get(i).length > roomInWindow(s)) {
                throw new IllegalArgumentException("a chunk crosses its window's end");
            }
            for (long t : chunks.get(i)) {
                s.tokens.add(t);
            }
            sizes[i] = chunks.get(i).length;
        }
        steps.add(sizes);
        Sampler.Choice[] out = new Sampler.Choice[rows.length];
        for (int j = 0; j < rows.length; j++) {
            float[] logits = new float[vocab];
            logits[next(((FakeState) states.get((int) rows[j])).tokens)] = 20f;
            out[j] = HostSampling.next(samplers.get(j), logits);
        }
        return out;
    }
}

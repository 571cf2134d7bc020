package dev.moaserve.engine;

import dev.moaserve.model.DecodeMode;

import java.util.List;

/**
 * What the scheduler runs its decisions on: sequence states and one batched step. Plain Java
 * values only, so the scheduler's policy can be tested with a fake runner and no model;
 * {@link DecoderRunner} is the real one.
 */
public interface StepRunner {
    /** One sequence's state on the runner (a slot); closing it frees the slot. */
    interface State extends AutoCloseable {
        /** Tokens consumed so far. */
        int length();

        /** Tokens consumed in the current routed window (0: it stands at a window boundary). */
        int windowFill();

        DecodeMode mode();

        @Override
        void close();
    }

    /** The routed window size: prefix-cache snapshots and forks happen at its multiples. */
    int window();

    int vocabSize();

    /** Bytes of state one sequence holds, whatever its length. */
    long bytesPerSequence();

    /** Called once on the thread that will run every step (the engine's libraries bind to it). */
    default void attachThread() {}

    State newState(DecodeMode mode);

    /** A running state that continues exactly where {@code s} stands. */
    State fork(State s);

    /** A parked copy of {@code s} that no step touches (a prefix-cache entry), to be forked later. */
    State snapshot(State s);

    /**
     * Feeds a fresh state the whole routed windows of its prompt at once where the runner can (a
     * full forward instead of a step per window), always leaving at least one token for the step
     * that samples the first token.
     *
     * @return the tokens fed: a multiple of {@link #window()}, 0 when it does not apply
     */
    default int prefillWindows(State s, long[] prompt) {
        return 0;
    }

    /** Tokens {@code s} may still take in this step: a chunk never crosses its window's end. */
    int roomInWindow(State s);

    /**
     * One batched step: feeds {@code chunks[i]} to {@code states[i]}; then samples the next token
     * of row {@code rows[j]} (an index into states) with {@code samplers[j]}.
     *
     * @return the choices, one per sampled row, in the order of {@code rows}
     */
    Sampler.Choice[] step(List<State> states, List<long[]> chunks, List<Sampler> samplers, long[] rows);
}

package dev.moaserve.decode;

import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.ModelConfig;

/**
 * One sequence's handle on the decoder's {@link StatePool}: which slot holds its state, how many
 * tokens it has consumed and how many of them are in the current (partial) routed window. The
 * state itself is constant-size, whatever the sequence length. Close it when the sequence ends:
 * its slot is reused at once.
 */
public final class DecodeState implements AutoCloseable {
    private final IncrementalDecoder owner;
    final DecodeMode mode;
    StatePool pool;
    int slot;
    int length;
    int fill;
    private boolean closed;

    DecodeState(IncrementalDecoder owner, DecodeMode mode) {
        this.owner = owner;
        this.mode = mode;
    }

    /** How this sequence is decoded (fixed for its life; forks and snapshots keep it). */
    public DecodeMode mode() {
        return mode;
    }

    /** Tokens consumed so far. */
    public int length() {
        return length;
    }

    /** First position of the current (partial) window. */
    public int windowStart() {
        return length - fill;
    }

    /** Tokens in the current window (0 right after a window completes). */
    public int windowFill() {
        return fill;
    }

    /** Bytes of pool state this sequence holds; constant for a given config and dtype, whatever the length. */
    public long bytes() {
        return owner.bytesPerSequence();
    }

    /** Bytes of one sequence's float32 state for a config, without allocating it. */
    public static long bytesFor(ModelConfig c) {
        return StatePool.bytesPerSlot(c);
    }

    IncrementalDecoder owner() {
        return owner;
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            owner.release(this);
        }
    }

    /**
     * {@code tokens} may be appended to this state by one step of {@code decoder} over {@code pool}
     * (sequence {@code j} of the step): else the reason, as an exception naming it.
     */
    void checkAppend(IncrementalDecoder decoder, StatePool pool, long[] tokens, int j, ModelConfig c) {
        if (isClosed() || owner != decoder) {
            throw new IllegalStateException("decode state is closed or belongs to another decoder");
        }
        if (this.pool != pool) {
            throw new IllegalArgumentException("a snapshot cannot be stepped: fork it first");
        }
        int win = c.routedWindowSize();
        if (tokens.length == 0 || fill + tokens.length > win) {
            throw new IllegalArgumentException("sequence " + j + ": " + tokens.length + " tokens do not fit the "
                    + (win - fill) + " left in its routed window");
        }
        if (length + tokens.length > c.seqLen()) {
            throw new IllegalArgumentException("sequence " + j + " would exceed the model's context (seq_len " + c.seqLen() + ")");
        }
        for (long t : tokens) {
            if (t < 0 || t >= c.numTokens()) {
                throw new IllegalArgumentException("token id " + t + " is out of range [0, " + c.numTokens() + ")");
            }
        }
    }

    /** A step appended {@code tokens}: they count, and a window that filled up starts the next. */
    void advance(int tokens, int window) {
        length += tokens;
        fill = (fill + tokens) % window;
    }
}

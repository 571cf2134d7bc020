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
}

package dev.moaserve.engine;

import dev.moaserve.decode.DecodeState;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.decode.SampleBatch;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.Djl;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The scheduler's runner over the model: an {@link IncrementalDecoder}, sampling inside its step program. */
public final class DecoderRunner implements StepRunner {
    /** A decoder state as the scheduler holds it. */
    record Slot(DecodeState state) implements State {
        @Override
        public int length() {
            return state.length();
        }

        @Override
        public int windowFill() {
            return state.windowFill();
        }

        @Override
        public DecodeMode mode() {
            return state.mode();
        }

        @Override
        public void close() {
            state.close();
        }
    }

    /** Fewer whole windows than this go through the step, which handles them as fast. */
    static final int MIN_WINDOWS = 2;

    private final IncrementalDecoder decoder;
    private final int maxPrefillTokens;

    /** A runner that feeds a fresh prompt's whole windows at once, up to the model's context. */
    public DecoderRunner(IncrementalDecoder decoder) {
        this(decoder, Integer.MAX_VALUE);
    }

    /** @param maxPrefillTokens most tokens one window prefill feeds (it pauses other streams while it runs) */
    public DecoderRunner(IncrementalDecoder decoder, int maxPrefillTokens) {
        this.decoder = decoder;
        this.maxPrefillTokens = maxPrefillTokens;
    }

    /** The decoder state of one of this runner's states. */
    public static DecodeState decodeState(State s) {
        return ((Slot) s).state();
    }

    /** A decoder state handed to the scheduler's side (the runner's states close it). */
    public static State wrap(DecodeState s) {
        return new Slot(s);
    }

    @Override
    public int window() {
        return decoder.config().routedWindowSize();
    }

    @Override
    public int vocabSize() {
        return decoder.config().numTokens();
    }

    @Override
    public long bytesPerSequence() {
        return decoder.bytesPerSequence();
    }

    @Override
    public void attachThread() {
        Djl.inferenceThread();
    }

    @Override
    public State newState(DecodeMode mode) {
        return new Slot(decoder.newState(mode));
    }

    @Override
    public State fork(State s) {
        return new Slot(decoder.fork(decodeState(s)));
    }

    @Override
    public State snapshot(State s) {
        return new Slot(decoder.snapshot(decodeState(s)));
    }

    /** Exact decoding of a fresh state only (frozen decoding routes rows as they arrive, which a full forward does not). */
    @Override
    public int prefillWindows(State s, long[] prompt) {
        int w = window();
        int whole = Math.min(prompt.length - 1, maxPrefillTokens) / w * w;
        if (s.length() != 0 || s.mode() != DecodeMode.EXACT || whole < MIN_WINDOWS * w) {
            return 0;
        }
        decoder.prefillWindows(decodeState(s), Arrays.copyOf(prompt, whole));
        return whole;
    }

    @Override
    public int roomInWindow(State s) {
        return decoder.roomInWindow(decodeState(s));
    }

    @Override
    public Sampler.Choice[] step(List<State> states, List<long[]> chunks, List<Sampler> samplers, long[] rows) {
        List<DecodeState> ds = new ArrayList<>(states.size());
        for (State s : states) {
            ds.add(decodeState(s));
        }
        if (samplers.isEmpty()) {
            decoder.step(ds, chunks, logits -> null);
            return new Sampler.Choice[0];
        }
        int v = vocabSize();
        SampleBatch batch = BatchSampler.prepare(samplers, rows, v);
        return BatchSampler.finish(decoder.stepAndSample(ds, chunks, batch), samplers, batch, v);
    }
}

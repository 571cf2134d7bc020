package dev.moaserve.decode;

import dev.moaserve.model.DecodeMode;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import dev.moaserve.model.Djl;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaWeights;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * Exact incremental decoding of canonical MoA (docs/model-contract.md, "Incremental decoding")
 * for a batch of sequences whose state lives in a {@link StatePool}.
 *
 * <p>One {@link #step} appends 1..(w − fill) tokens to some sequences and returns the logits
 * after each one's last token. The step itself is one call of the decode step program
 * ({@link ScriptedStep}, {@code decode_step.py}): only window rows whose output can differ from
 * the previous step are computed ({@link Recompute#LAZY}), decided inside the call from the
 * routing it computes; a step where no earlier row can change (window 0, a window holding ≤ k_q
 * tokens, or k_q ≥ w) is a plain cached step whose rows the host knows ({@link StepPlan}). This
 * class owns the states' life (join, leave, snapshot, fork), validates each step and chooses
 * libtorch's thread count.
 *
 * <p>Not thread-safe: the engine loop's one thread drives it.
 */
public final class IncrementalDecoder implements AutoCloseable {
    /** Which current-window rows a step recomputes. */
    public enum Recompute {
        /** Only rows whose output can change (exact). */
        LAZY,
        /** Every row of the current window, every step (the first engine's rule; for comparisons). */
        ALL;

        /** {@code lazy} or {@code all}, any case. */
        public static Recompute parse(String name) {
            return dev.moaserve.model.EnumNames.parse(Recompute.class, name, "recompute mode");
        }
    }

    private final ModelConfig c;
    private final DecodeWeights w;
    private final StatePool pool;
    private StatePool parked;          // snapshots (prefix cache), created on first use
    private final Recompute mode;
    private final DataType dtype;      // of the matmuls
    private final boolean half;        // matmuls and keys/values in float16
    private final NDManager manager;
    private final StepStats stats = new StepStats();
    private final ScriptedStep script;
    private boolean closed;

    public IncrementalDecoder(MoaWeights weights) {
        this(weights, 8, Recompute.LAZY);
    }

    /**
     * @param slots initial pool capacity (the largest expected batch; the pool grows beyond it)
     */
    public IncrementalDecoder(MoaWeights weights, int slots, Recompute mode) {
        this(weights, slots, mode, DataType.FLOAT32);
    }

    /**
     * @param dtype of the matmuls: FLOAT32, FLOAT16 (the pool's keys/values too) or BFLOAT16
     *              (the keys/values stay float32: libtorch's CPU attention is slow in float16;
     *              the bfloat16 weights exist only inside the step program, since DJL cannot
     *              hold a bfloat16 array). Norms, softmax, routing scores and top-k selection
     *              stay in float32.
     */
    public IncrementalDecoder(MoaWeights weights, int slots, Recompute mode, DataType dtype) {
        this(weights, slots, mode, dtype, null);
    }

    /**
     * @param program its step program, compiled beforehand for this model and {@code dtype} (null:
     *                compiled here); whoever began it {@link StepProgram#discard}s it if this fails
     */
    public IncrementalDecoder(MoaWeights weights, int slots, Recompute mode, DataType dtype, StepProgram program) {
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16 && dtype != DataType.BFLOAT16) {
            throw new IllegalArgumentException("decoder dtype must be float32, float16 or bfloat16, got " + dtype);
        }
        this.c = weights.config();
        this.mode = mode;
        this.dtype = dtype;
        this.half = dtype == DataType.FLOAT16;
        this.manager = weights.manager().newSubManager();
        this.w = new DecodeWeights(weights, manager, half ? DataType.FLOAT16 : DataType.FLOAT32);
        this.pool = allocatePool(slots);
        this.script = loadScript(program);
    }

    /** The running-state pool; an allocation failure (device out of memory) says what was asked for. */
    private StatePool allocatePool(int slots) {
        try {
            return new StatePool(w, manager, slots);
        } catch (ai.djl.engine.EngineException e) {
            ai.djl.Device device = manager.getDevice();
            manager.close();
            throw new PoolAllocationException(slots, bytesPerSequence(), device, e);
        }
    }

    /** The step program, compiled for this model; a program that does not compile frees the decoder. */
    private ScriptedStep loadScript(StepProgram program) {
        try {
            return new ScriptedStep(c, w, manager, dtype == DataType.BFLOAT16, program);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** The running-state pool (tests: what its memory holds before a slot's first use). */
    StatePool pool() {
        return pool;
    }

    /** Steps with fewer new tokens than this run on one intra-op thread (see {@link #useThreads}). */
    static final int PARALLEL_FROM_TOKENS = 8;

    /**
     * A step of a few rows is bound by operation dispatch: spreading its tiny kernels over
     * OpenMP threads costs more than it gains (measured: one stream 1.5–2× faster on one
     * thread), while a batched step's matmuls gain from every core the calling thread may use
     * ({@link Djl#useIntraOpThreads}).
     */
    private static void useThreads(int newTokens) {
        Djl.useIntraOpThreads(newTokens < PARALLEL_FROM_TOKENS ? 1 : Integer.MAX_VALUE);
    }

    /** As {@link #useThreads(int)}, but a step that multiplies by the weights in parts runs them on every thread. */
    private void useThreadsFor(int newTokens) {
        Djl.useIntraOpThreads(newTokens < PARALLEL_FROM_TOKENS && !script.inParts(newTokens) ? 1 : Integer.MAX_VALUE);
    }

    /**
     * Whether steps of few rows multiply by the weights in parts, one per intra-op thread
     * (default on; bench compares both). See {@code ScriptedStep.PARTS_BELOW_TOKENS}.
     */
    public void useMatmulParts(boolean on) {
        script.partsFromTokens(on ? script.defaultPartsFromTokens() : Integer.MAX_VALUE);
    }

    /** The weights in this many parts where the device allows, whatever the intra-op threads (tests: 2 on any machine). */
    void splitMatmuls(int parts) {
        script.splitInto(parts);
    }

    /** As {@link #splitMatmuls}, and steps of at least {@code fromTokens} new tokens run in parts (tests). */
    void matmulParts(int parts, int fromTokens) {
        splitMatmuls(parts);
        script.partsFromTokens(fromTokens);
    }

    /** Whether a step of {@code newTokens} new tokens multiplies by the weights in parts. */
    public boolean matmulPartsAt(int newTokens) {
        return script.inParts(newTokens);
    }

    /** The step program's full forward of whole rows (embeddings, return_routing), callable beside the steps. */
    public WholeRows wholeRows() {
        return new WholeRows(c, script, manager);
    }

    /** Every named slot as the step program reads it, in {@link StepSlots}' order (tests pin the layout with it). */
    NDArray[] programSlots(int layer, NDManager m) {
        return script.echoSlots(pool, layer, m);
    }

    /** A step plan's array sections as the program cuts them by name (tests pin the layout with it). */
    NDArray[] programSections(StepPlan plan, NDManager m) {
        return script.echoSections(plan, m);
    }

    DecodeWeights decodeWeights() {
        return w;
    }

    StatePool statePool() {
        return pool;
    }

    public ModelConfig config() {
        return c;
    }

    /** Data type of the matmuls. */
    public DataType dtype() {
        return dtype;
    }

    /** Bytes of pool state one sequence holds with this decoder's dtype. */
    public long bytesPerSequence() {
        return bytesPerSequence(c, dtype);
    }

    /** Bytes of pool state one sequence of model {@code c} holds with matmuls in {@code dtype} (before building a decoder). */
    public static long bytesPerSequence(ModelConfig c, DataType dtype) {
        return StatePool.bytesPerSlot(c, dtype == DataType.FLOAT16 ? 2 : 4);
    }

    /** Counters of the steps run so far (for benchmarks and tests). */
    public StepStats stats() {
        stats.rows = script.rows();
        return stats;
    }

    /** A fresh, empty, exactly decoded sequence state holding a pool slot (close it when the sequence ends). */
    public DecodeState newState() {
        return newState(DecodeMode.EXACT);
    }

    /** A fresh, empty sequence state decoded in {@code mode}, holding a pool slot. */
    public DecodeState newState(DecodeMode mode) {
        DecodeState s = new DecodeState(this, mode);
        pool.acquire(s);
        return s;
    }

    void release(DecodeState s) {
        if (!closed && s.pool != null) {
            s.pool.release(s);
        }
    }

    /**
     * A parked copy of {@code s}'s state (length, window fill and every pool tensor), in a
     * separate pool of the same layout on the same device: a snapshot that steps never touch,
     * to be {@link #fork forked} later. Close it to free its slot.
     */
    public DecodeState snapshot(DecodeState s) {
        if (parked == null) {
            parked = new StatePool(w, manager, 1);
        }
        DecodeState copy = new DecodeState(this, s.mode);
        parked.acquire(copy);
        StatePool.copy(s.pool, s.slot, parked, copy.slot);
        copy.length = s.length;
        copy.fill = s.fill;
        return copy;
    }

    /**
     * A new running state that continues exactly where {@code src} (a snapshot or a running
     * state) stands: the same tokens consumed, the same tensors; they then evolve independently.
     */
    public DecodeState fork(DecodeState src) {
        DecodeState s = newState(src.mode);
        StatePool.copy(src.pool, src.slot, pool, s.slot);
        s.length = src.length;
        s.fill = src.fill;
        return s;
    }


    /** Feeds a whole prompt to a fresh state; returns the logits [V] for the next token. */
    public float[] prefill(DecodeState state, long[] prompt) {
        return prefill(List.of(state), List.of(prompt))[0];
    }

    /** Feeds prompts to states in batched window-sized chunks; returns next-token logits per state. */
    public float[][] prefill(List<DecodeState> states, List<long[]> prompts) {
        float[][] out = new float[states.size()][];
        int[] done = new int[states.size()];
        while (true) {
            List<DecodeState> batch = new ArrayList<>();
            List<long[]> chunks = new ArrayList<>();
            List<Integer> index = new ArrayList<>();
            for (int i = 0; i < states.size(); i++) {
                long[] p = prompts.get(i);
                if (done[i] < p.length) {
                    DecodeState s = states.get(i);
                    int n = Math.min(roomInWindow(s), p.length - done[i]);
                    batch.add(s);
                    chunks.add(Arrays.copyOfRange(p, done[i], done[i] + n));
                    index.add(i);
                    done[i] += n;
                }
            }
            if (batch.isEmpty()) {
                return out;
            }
            float[][] logits = step(batch, chunks);
            for (int j = 0; j < index.size(); j++) {
                out[index.get(j)] = logits[j];
            }
        }
    }

    /**
     * Feeds a fresh exact-decoding state the first whole routed windows of its prompt in one call
     * (a full forward of them, then the state a step per window would leave at that boundary:
     * ring, local keys/values, kept routed keys/values), instead of one step per window.
     *
     * @param tokens a multiple of the routed window, at least one window; {@code s} has consumed nothing
     */
    public void prefillWindows(DecodeState s, long[] tokens) {
        int w = c.routedWindowSize();
        if (s.length != 0 || s.mode != DecodeMode.EXACT || tokens.length == 0 || tokens.length % w != 0
                || tokens.length > c.seqLen()) {
            throw new IllegalArgumentException("prefillWindows takes whole windows of a fresh exact state, got "
                    + tokens.length + " tokens after " + s.length);
        }
        useThreads(tokens.length);
        try (NDManager m = manager.newSubManager(); NDArray ids = m.create(tokens)) {
            script.prefillWindows(pool, ids, s.slot, m);
        }
        s.length = tokens.length;
        s.fill = 0;
    }

    /** How many tokens the next step may append to this state without crossing a window boundary. */
    public int roomInWindow(DecodeState s) {
        return c.routedWindowSize() - s.fill;
    }

    /** Appends one token to each state; returns next-token logits per state. */
    public float[][] decode(List<DecodeState> states, long[] tokens) {
        List<long[]> appended = new ArrayList<>(tokens.length);
        for (long t : tokens) {
            appended.add(new long[] {t});
        }
        return step(states, appended);
    }

    /** {@link #step(List, List, Function)} returning the logits on the host, [S][V]. */
    public float[][] step(List<DecodeState> states, List<long[]> appended) {
        return step(states, appended, logits -> {
            stats.transfers++;
            float[] flat = logits.toFloatArray();
            int v = c.numTokens();
            float[][] out = new float[states.size()][];
            for (int s = 0; s < out.length; s++) {
                out[s] = Arrays.copyOfRange(flat, s * v, (s + 1) * v);
            }
            return out;
        });
    }

    /**
     * Appends {@code appended.get(i)} to {@code states.get(i)} (1..room tokens each) and hands
     * the logits after each one's last token, [S, V] on the device, to {@code sink}, which must
     * return host data (the logits are freed when the step ends).
     */
    public <T> T step(List<DecodeState> states, List<long[]> appended, Function<NDArray, T> sink) {
        return run(states, appended, (plan, floats, ints) -> sink.apply(script.run(pool, floats, ints, plan.meta, manager)));
    }

    /**
     * A step and the sampling of its logits in the same call of the step program: only the
     * sampled tokens (and requested log-probabilities) come back, {@link SampleBatch#width} floats
     * per sampled row.
     */
    public float[] stepAndSample(List<DecodeState> states, List<long[]> appended, SampleBatch sampling) {
        return run(states, appended, (plan, floats, ints) -> {
            stats.transfers += 3;   // the sampling inputs in, the tokens out
            return script.runAndSample(pool, floats, ints, plan.meta, manager.create(sampling.floats()),
                    manager.create(sampling.ints()), sampling.meta(), manager).toFloatArray();
        });
    }

    /** The step program's sampler alone, on logits [N, V] already on the device. */
    public float[] sample(NDArray logits, SampleBatch sampling) {
        Djl.inferenceThread();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            return script.sample(logits, manager.create(sampling.floats()), manager.create(sampling.ints()),
                    sampling.meta(), manager).toFloatArray();
        }
    }

    /** What a step runs once its plan is packed and uploaded. */
    @FunctionalInterface
    private interface Call<T> {
        T apply(StepPlan plan, NDArray floats, NDArray ints);
    }

    private <T> T run(List<DecodeState> states, List<long[]> appended, Call<T> call) {
        int s = states.size();
        if (s == 0 || appended.size() != s) {
            throw new IllegalArgumentException("step needs one token list per state");
        }
        int win = c.routedWindowSize();
        int slots = pool.active();
        long[][] add = new long[slots][];
        int[] last = new int[s];
        Set<DecodeState> seen = new HashSet<>();
        for (int j = 0; j < s; j++) {
            DecodeState st = states.get(j);
            long[] a = appended.get(j);
            if (closed) {
                throw new IllegalStateException("the decoder is closed");
            }
            if (!seen.add(st)) {
                throw new IllegalArgumentException("a state appears twice in one step");
            }
            st.checkAppend(this, pool, a, j, c);
            add[st.slot] = a;
            last[j] = st.slot;
        }
        Djl.inferenceThread();
        StepPlan plan = StepPlan.over(pool, c, mode == Recompute.ALL, add, last);
        T out;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            useThreadsFor(plan.fresh);
            NDArray floats = manager.create(plan.floats);
            NDArray ints = manager.create(plan.ints);
            stats.transfers += 2;
            if (plan.planOnDevice()) {
                stats.syncs += c.depth();
            }
            out = call.apply(plan, floats, ints);
            stats.ops += StepStats.scopeSize(scope);
        }
        stats.steps++;
        for (int b = 0; b < slots; b++) {
            if (add[b] != null) {
                pool.holder(b).advance(add[b].length, win);
            }
        }
        return out;
    }

    /** Frees the weights' decode layout and the pool; states still open become unusable. */
    @Override
    public void close() {
        closed = true;
        useThreads(Integer.MAX_VALUE); // leave the thread's intra-op setting as it was found
        script.close();
        manager.close();
    }
}

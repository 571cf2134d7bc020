package dev.moaserve.decode;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import dev.moaserve.model.Djl;
import dev.moaserve.model.ModelConfig;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Calls the decode step program ({@code decode_step.py}) once per step. The archive is written
 * and compiled once per decoder with the model's sizes; the weights' argument list is built
 * once, the pool's again only when the pool reallocates. Per step only the two input arrays and
 * a few integers go in; the logits of each sequence's last new row come out, on the device.
 */
final class ScriptedStep implements AutoCloseable {
    /** The program's source, by job: the class and the step first, then its other methods. */
    static final java.util.List<String> SOURCES = java.util.List.of("decode_step.py", "step_sampler.py", "whole_rows.py",
            "step_echoes.py");
    private static final String CLASS = "DecodeStep";

    private final StepProgram.Compiled program;
    private final PtSymbolBlock module;
    private final IValue weights;
    private final int depth;
    private final boolean splittable;     // float32 on a CPU: steps may run their matmuls in parts
    private IValue partsWeights;          // the matmul weights in parts (split_matmuls); null: never used
    private final boolean streamsWeights; // a step of one row is bound by reading the weights from memory
    private int partsFromTokens;
    private final NDArray finalNorm;
    private final NDArray rowCounter;     // int64 [1]: rows computed, summed over layers and steps
    private final IValue rowCounterArg;
    private IValue poolArg;
    private final Map<Long, IValue> batchViews = new HashMap<>(); // the program's batch_views by batch size, made with poolArg
    private int poolGeneration = -1;

    ScriptedStep(ModelConfig c, DecodeWeights w, NDManager manager) {
        this(c, w, manager, false);
    }

    /** @param bf16 matmuls in bfloat16: the program casts the float32 matmul weights once, here */
    ScriptedStep(ModelConfig c, DecodeWeights w, NDManager manager, boolean bf16) {
        this(c, w, manager, bf16, (StepProgram) null);
    }

    /** @param compiled the program compiled beforehand for these sizes and precision (null: compiled here) */
    ScriptedStep(ModelConfig c, DecodeWeights w, NDManager manager, boolean bf16, StepProgram compiled) {
        this(c, w, manager, bf16, compiled != null ? compiled.take()
                : StepProgram.compile(c, source(), mixed(w, bf16), manager.getDevice()));
    }

    /** The program casts around its matmuls and keys/values: bfloat16 matmuls, or weights not in float32. */
    private static boolean mixed(DecodeWeights w, boolean bf16) {
        return bf16 || StepProgram.mixed(w.dtype);
    }

    /** The program's source: its files joined into the one class. */
    static String source() {
        return source(null);
    }

    /** The program's source with each file that {@code dir} has (by name) in place of the shipped one (null: none). */
    static String source(java.nio.file.Path dir) {
        StringBuilder s = new StringBuilder();
        for (String file : SOURCES) {
            java.nio.file.Path given = dir == null ? null : dir.resolve(file);
            try {
                s.append(given != null && java.nio.file.Files.exists(given) ? java.nio.file.Files.readString(given)
                        : ScriptArchive.resource(ScriptedStep.class, file)).append('\n');
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        return s.toString();
    }

    /** With another program text (tests: a broken script must fail here, with its line). */
    ScriptedStep(ModelConfig c, DecodeWeights w, NDManager manager, String source) {
        this(c, w, manager, false, StepProgram.compile(c, source, mixed(w, false), manager.getDevice()));
    }

    private ScriptedStep(ModelConfig c, DecodeWeights w, NDManager manager, boolean bf16, StepProgram.Compiled program) {
        // float32 throughout: the program skips the casts around every matmul and key/value (each a dispatch)
        if (program.mixed() != mixed(w, bf16)) {
            program.close();
            throw new IllegalArgumentException("the step program was compiled for another precision than the decoder's");
        }
        this.program = program;
        module = program.module();
        IValue given = IValue.listFrom(w.scriptArguments().stream().map(a -> (PtNDArray) a).toArray(PtNDArray[]::new));
        if (bf16) {
            // the bfloat16 copies live only in this IValue: DJL aborts the JVM on a bfloat16 NDArray
            try (given; IValue matmuls = IValue.listFrom(StepSlots.matmulWeights(c.depth()))) {
                weights = IValueUtils.runMethod(module, "bfloat16_matmuls", given, matmuls);
            } catch (RuntimeException e) {
                program.close();
                throw e;
            }
        } else {
            weights = given;
        }
        depth = c.depth();
        splittable = !bf16 && !manager.getDevice().isGpu() && !StepProgram.mixed(w.dtype);
        try {
            splitInto(Djl.cores());
        } catch (RuntimeException e) {
            weights.close();
            program.close();
            throw e;
        }
        streamsWeights = matmulBytes(w) >= ONE_ROW_PARTS_FROM_BYTES;
        partsFromTokens = defaultPartsFromTokens();
        finalNorm = w.finalNorm;
        rowCounter = manager.zeros(new ai.djl.ndarray.types.Shape(1), DataType.INT64);
        rowCounterArg = IValue.from((PtNDArray) rowCounter);
    }

    /**
     * libtorch's gemm of a few rows runs on one core here (MKL threads it little or not at all), so
     * a step of few rows streams every matmul weight through that core's share of the memory
     * bandwidth. Steps of fewer new tokens than this multiply by the weights in parts of their
     * output columns instead, one per intra-op thread, as one batched gemm ({@code parts_mm}).
     * Measured here (2 cores, in-process alternation): the d512 bench model's step at B = 1
     * 7.0 ms against 10.1, B = 8 16 against 22, B = 64 63 against 69; the embedded model's at
     * B = 8 2.8 against 3.1, at B = 64 and 160 not told apart.
     */
    static final int PARTS_BELOW_TOKENS = 128;

    /**
     * A step of fewer than {@link IncrementalDecoder#PARALLEL_FROM_TOKENS} new tokens runs on one
     * thread (it is bound by dispatch), unless the model's matmul weights are at least this many
     * bytes: then it is bound by memory and runs in parts on every thread (a bare loop of the d512
     * model's linears: ~30 GB/s in two parts against ~19 GB/s as one; the embedded model's 12 MB
     * at B = 1 ran 1.2–1.4 ms a step on one thread against 1.4–2.1 in parts on two).
     */
    static final long ONE_ROW_PARTS_FROM_BYTES = 32L << 20;

    /**
     * The weights as a step in parts multiplies by them, in {@code parts} parts (the intra-op
     * threads); none where fewer than two, on a GPU or with casts around the matmuls (tests: 2 on
     * any machine, the parts' arithmetic does not depend on the threads).
     */
    void splitInto(int parts) {
        if (partsWeights != null) {
            partsWeights.close();
            partsWeights = null;
        }
        if (!splittable || parts < 2) {
            return;
        }
        try (IValue list = IValue.listFrom(StepSlots.matmulWeights(depth)); IValue p = IValue.from((long) parts)) {
            partsWeights = IValueUtils.runMethod(module, "split_matmuls", weights, list, p);
        }
    }

    /** Bytes of the weights the step's matmuls multiply by. */
    private long matmulBytes(DecodeWeights w) {
        List<NDArray> given = w.scriptArguments();
        long bytes = 0;
        for (long i : StepSlots.matmulWeights(depth)) {
            NDArray a = given.get((int) i);
            bytes += a.size() * a.getDataType().getNumOfBytes();
        }
        return bytes;
    }

    /** Whether a step of {@code newTokens} new tokens multiplies by the weights in parts (then on every intra-op thread). */
    boolean inParts(long newTokens) {
        return partsWeights != null && newTokens >= partsFromTokens && newTokens < PARTS_BELOW_TOKENS;
    }

    /** Steps of at least this many new tokens run in parts (bench: MAX_VALUE compares whole weights; tests: 1). */
    void partsFromTokens(int tokens) {
        partsFromTokens = tokens;
    }

    /** Where steps start to run in parts for this model: at one row where a row streams the weights. */
    int defaultPartsFromTokens() {
        return streamsWeights ? 1 : IncrementalDecoder.PARALLEL_FROM_TOKENS;
    }

    private IValue weightsFor(long[] meta) {
        return inParts(meta[StepSlots.Plan.NEW_TOKENS.ordinal()]) ? partsWeights : weights;
    }

    /**
     * From this many attention rows of one position each (slots at the local attention, slots ×
     * experts at the routed one), a step's attention runs as two batched matmuls instead of
     * libtorch's CPU flash attention, which runs a gemm per (row, head) and key block: at B = 64
     * the step took 10.0–11.5 ms against 11.8–14.3 (min–median of 8 alternated rounds), below 8
     * rows neither was faster. A GPU keeps its fused attention kernel (one launch, not four).
     */
    static final int MATMUL_ATTENTION_FROM = 8;

    static int matmulAttentionFrom(Device device) {
        return device.isGpu() ? Integer.MAX_VALUE : MATMUL_ATTENTION_FROM;
    }

    /** The program's attributes: the model's sizes, fixed for the decoder's life. */
    static ScriptArchive archive(ModelConfig c, String source) {
        return StepSlots.declare(new ScriptArchive(CLASS, source)).withShape(c)
                .with("window", c.routedWindowSize())
                .with("ring", StatePool.ringSize(c))
                .with("routed_queries", Math.min(c.numRoutedQueries(), c.routedWindowSize()));
    }

    /**
     * One step over the pool's leading slots.
     *
     * @param floats [3·B·w + 2·B] and {@code ints} int64, laid out as the program's {@code step} says
     * @param meta   the step's integers ({@link StepPlan#meta})
     * @return logits [S, V] float32, on the device (the caller's scope owns it)
     */
    NDArray run(StatePool pool, NDArray floats, NDArray ints, long[] meta, NDManager manager) {
        return call(manager, "step", weightsFor(meta), poolArg(pool), batchViews(pool, meta), floats, ints, meta, rowCounterArg);
    }

    /** One step and the sampling of its logits in the same call: [rows, width] sampled tokens. */
    NDArray runAndSample(StatePool pool, NDArray floats, NDArray ints, long[] meta,
                         NDArray sampleFloats, NDArray sampleInts, long[] sampleMeta, NDManager manager) {
        return call(manager, "step_sample", weightsFor(meta), poolArg(pool), batchViews(pool, meta), floats, ints, meta, rowCounterArg,
                sampleFloats, sampleInts, sampleMeta);
    }

    /**
     * The full forward of right-padded rows (embeddings): ids [B, N] int64, lengths [B] int64 →
     * the final normed hidden states [B, N, D] float32 (the caller's manager owns them). Runs on
     * any thread: it reads the weights and touches no decode state.
     */
    NDArray hidden(NDArray ids, NDArray lengths, NDManager manager) {
        return call(manager, "hidden", weights, ids, lengths, finalNorm);
    }

    /**
     * Each layer's router logits of one text's full forward (return_routing): ids [1, N] int64 →
     * [L, 2, N, G] float32, queries then keys/values. Runs on any thread, as {@link #hidden}.
     */
    NDArray routingScores(NDArray ids, NDManager manager) {
        return call(manager, "routing_scores", weights, ids);
    }

    /** Every named slot as the program reads it, model-wide then layer {@code layer}'s, weights then pool (tests). */
    NDArray[] echoSlots(StatePool pool, int layer, NDManager manager) {
        try (IValue l = IValue.from((long) layer);
             IValue out = IValueUtils.runMethod(module, "echo_slots", weights, poolArg(pool), l)) {
            return out.toTensorArray((PtNDManager) manager);
        }
    }

    /** Each section of a step's arrays as the program cuts them, floats then ids, in {@link StepSlots}' order (tests). */
    NDArray[] echoSections(StepPlan plan, NDManager manager) {
        try (IValue f = IValue.from((PtNDArray) manager.create(plan.floats));
             IValue ids = IValue.from((PtNDArray) manager.create(plan.ints));
             IValue meta = IValue.listFrom(plan.meta);
             IValue out = IValueUtils.runMethod(module, "echo_sections", f, ids, meta)) {
            return out.toTensorArray((PtNDManager) manager);
        }
    }

    /** Feeds a fresh slot's first whole windows of prompt ({@code ids} [n] int64) in one full forward. */
    void prefillWindows(StatePool pool, NDArray ids, int slot, NDManager manager) {
        call(manager, "prefill_windows", weights, poolArg(pool), ids, (long) slot).close();
    }

    /** The program's sampler alone, on logits [N, V] (tests, and steps that were not sampled in the call). */
    NDArray sample(NDArray logits, NDArray sampleFloats, NDArray sampleInts, long[] sampleMeta, NDManager manager) {
        return call(manager, "sample", logits, sampleFloats, sampleInts, sampleMeta);
    }

    /**
     * Runs a method of the program. Arguments are IValues kept across calls (weights, pool,
     * counter), or tensors and integer lists of this call, wrapped here and freed after it.
     */
    private NDArray call(NDManager manager, String method, Object... args) {
        IValue[] values = new IValue[args.length];
        List<IValue> own = new ArrayList<>();
        try {
            for (int k = 0; k < args.length; k++) {
                if (args[k] instanceof IValue kept) {
                    values[k] = kept;
                } else {
                    values[k] = args[k] instanceof long[] ints ? IValue.listFrom(ints)
                            : args[k] instanceof Long one ? IValue.from(one) : IValue.from((PtNDArray) args[k]);
                    own.add(values[k]);
                }
            }
            try (IValue out = IValueUtils.runMethod(module, method, values)) {
                return out.toTensor((PtNDManager) manager);
            }
        } finally {
            own.forEach(IValue::close);
        }
    }

    /** The pool as the program's argument, rebuilt (and its batch views dropped) when the pool is reallocated. */
    private IValue poolArg(StatePool pool) {
        if (pool.generation() != poolGeneration) {
            closePoolArgs();
            poolArg = IValue.listFrom(pool.programTensors().stream().map(a -> (PtNDArray) a).toArray(PtNDArray[]::new));
            poolGeneration = pool.generation();
        }
        return poolArg;
    }

    /**
     * The step's views of the pool for the batch {@code meta} names (the program's
     * {@code batch_views}: flat views and the batch's slices), made once per pool and batch size,
     * so a step does not slice the state again (~5 operations per layer).
     */
    private IValue batchViews(StatePool pool, long[] meta) {
        IValue state = poolArg(pool); // first: a reallocated pool drops the views of the old one
        long batch = meta[StepSlots.Plan.BATCH.ordinal()];
        IValue views = batchViews.get(batch);
        if (views == null) {
            try (IValue b = IValue.from(batch)) {
                views = IValueUtils.runMethod(module, "batch_views", state, b);
            }
            batchViews.put(batch, views);
        }
        return views;
    }

    private void closePoolArgs() {
        if (poolArg != null) {
            poolArg.close();
        }
        batchViews.values().forEach(IValue::close);
        batchViews.clear();
    }

    /** Rows computed so far, summed over layers (one read of a device counter). */
    long rows() {
        return rowCounter.getLong();
    }

    @Override
    public void close() {
        closePoolArgs();
        if (partsWeights != null) {
            partsWeights.close();
        }
        weights.close();
        rowCounterArg.close();
        program.close();
    }
}

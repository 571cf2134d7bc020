package dev.moaserve.decode;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtSymbolBlock;
import dev.moaserve.model.DaemonThreads;
import dev.moaserve.model.Djl;
import dev.moaserve.model.ModelConfig;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The decode step program compiled by libtorch for one model's sizes and precision. Compiling its
 * source takes a tenth of a second or more and needs only the config, so a server begins it on a
 * thread of its own as soon as libtorch is up ({@link #begin}), beside the weights' load, and the
 * decoder built from those weights takes it ({@link IncrementalDecoder}); built without one, a
 * decoder compiles its own.
 */
public final class StepProgram {
    private final CompletableFuture<Compiled> compiled;
    private final AtomicBoolean taken = new AtomicBoolean();

    private StepProgram(CompletableFuture<Compiled> compiled) {
        this.compiled = compiled;
    }

    /** A compiled module on a manager of its own: whoever takes it closes both. */
    record Compiled(NDManager manager, PtSymbolBlock module, boolean mixed) implements AutoCloseable {
        @Override
        public void close() {
            module.close();
            manager.close();
        }
    }

    /**
     * Begins compiling the program for {@code c}, matmuls in {@code dtype}, on {@code device}, on a
     * thread of its own; a decoder built with it waits for the result.
     */
    public static StepProgram begin(ModelConfig c, DataType dtype, Device device) {
        return new StepProgram(CompletableFuture.supplyAsync(() -> compile(c, ScriptedStep.source(), mixed(dtype), device),
                DaemonThreads.named("moa-compile")));
    }

    /**
     * The program with its source files taken from {@code dir} where it has one of that name (the
     * shipped file elsewhere), compiled on this thread for {@code c} in float32 on the CPU: a
     * changed program measured beside the shipped one ({@code bench --step-source}).
     */
    public static StepProgram fromSources(ModelConfig c, java.nio.file.Path dir) {
        return new StepProgram(CompletableFuture.completedFuture(compile(c, ScriptedStep.source(dir), false, Device.cpu())));
    }

    /** Casts around the matmuls and keys/values only where they are not float32 (each cast is a dispatch). */
    static boolean mixed(DataType dtype) {
        return dtype != DataType.FLOAT32;
    }

    /** Compiles {@code source} on this thread; a program that does not compile is an IllegalStateException naming its line. */
    static Compiled compile(ModelConfig c, String source, boolean mixed, Device device) {
        NDManager manager = Djl.newManager(device);
        try {
            return new Compiled(manager, ScriptedStep.archive(c, source).with("mixed", mixed)
                    .with("matmul_attention_from", ScriptedStep.matmulAttentionFrom(device)).load(manager, "the decode step program"),
                    mixed);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** The compiled program, once compiled; its compile's failure is thrown here as it was thrown there. */
    Compiled take() {
        if (!taken.compareAndSet(false, true)) {
            throw new IllegalStateException("the step program was taken already");
        }
        try {
            return compiled.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw e;
        }
    }

    /** Frees the program once compiled, unless a decoder took it (then the decoder frees it): for a load that failed. */
    public void discard() {
        if (taken.compareAndSet(false, true)) {
            compiled.thenAccept(Compiled::close);
        }
    }
}

package dev.moaserve.model;

import ai.djl.pytorch.jni.LibUtils;
import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import org.jboss.logging.Logger;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * MKL's dynamic threading, turned back on after libtorch turns it off. {@code at::set_num_threads}
 * (every change of a thread's intra-op count, {@link Djl#useIntraOpThreads}) also calls
 * {@code mkl_set_dynamic(false)}, process-wide, so every MKL call from then on runs on all of the
 * thread's intra-op threads however small it is; with it on, MKL picks fewer threads for small
 * problems. Measured: a 1,000-token prefill 83–103 ms with it on against 87–114 ms off (faster in
 * 3 of 4 alternated runs of {@code bench --prefill --quick}, 2 cores; docs/serving-path.md). A
 * libtorch without MKL (other platforms' builds) has no such symbol: then this does nothing.
 * ({@code mkl_set_dynamic}, the Fortran-style alias, crashed here: the C entry point is used.)
 */
final class MklThreading {
    private static final Logger LOG = Logger.getLogger(MklThreading.class);
    private static final Function SET_DYNAMIC = find();

    private MklThreading() {}

    /** Turns MKL's dynamic threading on (no-op without MKL). Call after each {@code set_num_threads}. */
    static void dynamic() {
        if (SET_DYNAMIC != null) {
            SET_DYNAMIC.invoke(new Object[] {1});
        }
    }

    private static Function find() {
        try {
            Path lib = Path.of(LibUtils.getLibtorchPath(), System.mapLibraryName("torch_cpu"));
            if (!Files.exists(lib)) {
                return null;
            }
            return NativeLibrary.getInstance(lib.toString()).getFunction("MKL_Set_Dynamic");
        } catch (RuntimeException | LinkageError e) {
            LOG.debugf("MKL's dynamic threading stays as libtorch leaves it: %s", e.toString());
            return null;
        }
    }
}

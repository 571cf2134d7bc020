package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The intra-op thread policy ({@link Djl#sideThread}): a side thread stays on one thread whatever
 * other threads set later (libtorch re-reads a process-wide count at a thread's first parallel
 * region), and a thread readied for inference uses every core, less when a step asks for less.
 */
class IntraOpThreadsTest {
    /** A parallel region's worth of work (well above libtorch's grain size), then the thread's count. */
    private static int countAfterParallelWork() {
        try (NDManager m = Djl.newManager()) {
            NDArray a = m.ones(new Shape(512, 1024));
            a.add(a).sum().getFloat();
        }
        return JniUtils.getNumThreads();
    }

    private static int onThread(Runnable before) throws InterruptedException {
        AtomicInteger n = new AtomicInteger();
        Thread t = new Thread(() -> {
            before.run();
            n.set(countAfterParallelWork());
        });
        t.start();
        t.join();
        return n.get();
    }

    @Test
    void aSideThreadStaysOnOneThreadWhateverOthersSet() throws Exception {
        int cores = Djl.cores();
        AtomicInteger side = new AtomicInteger();
        Thread t = new Thread(() -> {
            Djl.sideThread();
            // another thread sets libtorch's process-wide count after this one was pinned
            Thread other = new Thread(() -> {
                Djl.inferenceThread();
                Djl.useIntraOpThreads(Integer.MAX_VALUE);
                JniUtils.setNumThreads(cores);
            });
            other.start();
            try {
                other.join();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            Djl.useIntraOpThreads(Integer.MAX_VALUE); // a batched step asks for every core
            side.set(countAfterParallelWork());
        });
        t.start();
        t.join();
        assertEquals(1, side.get(), "a side thread never opens a team of its own");
    }

    @Test
    void aComputeThreadUsesEveryCoreAndFewerWhenAsked() throws Exception {
        onThread(Djl::sideThread); // leaves libtorch's process-wide count at 1
        assertEquals(Djl.cores(), onThread(Djl::inferenceThread), "a thread readied for inference uses libtorch's count at start");
        assertEquals(1, onThread(() -> {
            Djl.inferenceThread();
            Djl.useIntraOpThreads(1); // a step of a few rows
        }));
    }

    /**
     * Every change of a thread's count leaves MKL's dynamic threading on, though libtorch's
     * {@code set_num_threads} turns it off ({@link MklThreading}); read back from MKL itself. A
     * libtorch without MKL skips.
     */
    @Test
    void mklKeepsItsDynamicThreadingAfterACountChange() throws Exception {
        Djl.engine();
        com.sun.jna.Function dynamic;
        try {
            dynamic = com.sun.jna.NativeLibrary.getInstance(java.nio.file.Path.of(ai.djl.pytorch.jni.LibUtils.getLibtorchPath(),
                    System.mapLibraryName("torch_cpu")).toString()).getFunction("mkl_serv_get_dynamic");
        } catch (UnsatisfiedLinkError noMkl) {
            org.junit.jupiter.api.Assumptions.abort("this libtorch has no MKL: " + noMkl.getMessage());
            return;
        }
        int[] seen = new int[3];
        Thread t = new Thread(() -> {
            JniUtils.setNumThreads(1);
            seen[0] = dynamic.invokeInt(new Object[0]); // what libtorch leaves
            Djl.inferenceThread();
            seen[1] = dynamic.invokeInt(new Object[0]);
            Djl.useIntraOpThreads(1);
            seen[2] = dynamic.invokeInt(new Object[0]);
        });
        t.start();
        t.join();
        assertEquals(0, seen[0], "libtorch's set_num_threads turns MKL's dynamic threading off");
        assertEquals(1, seen[1], "readying a thread turns it back on");
        assertEquals(1, seen[2], "so does a step's change of count");
    }
}

package dev.moaserve.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;

/**
 * The one place that starts DJL. The natives come from the Maven Central jars on the classpath,
 * so DJL must never try to download libtorch (it cannot, offline) and must not pick the Rust
 * engine that the tokenizers jar also registers.
 */
public final class Djl {
    private static volatile boolean started;

    private Djl() {}

    /** Sets the offline/engine properties (unless the user set them) and initialises the engine. */
    public static synchronized Engine engine() {
        if (!started) {
            setIfAbsent("ai.djl.offline", "DJL_OFFLINE", "true");
            setIfAbsent("ai.djl.default_engine", "DJL_DEFAULT_ENGINE", "PyTorch");
            NativePlatform.check();
            MklKernels.chooseByInstructionSet();
            Engine.getEngine("PyTorch");
            cores = Math.max(1, JniUtils.getNumThreads());
            started = true;
        }
        return Engine.getEngine("PyTorch");
    }

    /** A fresh root manager on the CPU. */
    public static NDManager newManager() {
        return engine().newBaseManager();
    }

    /** A fresh root manager on a device. */
    public static NDManager newManager(ai.djl.Device device) {
        return engine().newBaseManager(device);
    }

    /**
     * Readies this thread for inference (once per thread; cheap after): grad mode off (libtorch's
     * grad mode is thread-local and on by default on every thread but the one that created the
     * engine) and this thread's intra-op threads pinned to every core, unless {@link #sideThread}
     * pinned it to one first. Call it first on each thread that runs inference.
     */
    public static void inferenceThread() {
        if (THREADS.get() == null) {
            setUp(cores());
        }
    }

    /**
     * Readies this thread for inference on one intra-op thread: a thread beside the process's one
     * compute thread (the engine's loop, an encoder's embedding loop, a command's main thread).
     * libgomp gives each thread that runs a parallel region a team of its own, and once more than
     * one such team exists in the process it stops spin-waiting between regions (it manages more
     * threads than there are cores), so every later region pays a sleep and a wake-up: measured
     * here, a decode step at batch 8 ran at half speed on any thread once another thread had run
     * one two-thread region, even idle since. Threads that compute beside the loop therefore never
     * open a team. Must come before the thread's first inference call.
     */
    public static void sideThread() {
        setUp(1);
    }

    /**
     * This thread's intra-op threads for the next operations: {@code want}, at most what the thread
     * was readied with ({@link #inferenceThread}, {@link #sideThread}). A step of a few rows is
     * bound by operation dispatch and runs faster on one thread; a batched one gains from every core.
     */
    public static void useIntraOpThreads(int want) {
        int[] t = THREADS.get();
        if (t == null) {
            inferenceThread();
            t = THREADS.get();
        }
        int n = Math.max(1, Math.min(want, t[0]));
        if (n != t[1]) {
            JniUtils.setNumThreads(n);
            MklThreading.dynamic();
            t[1] = n;
        }
    }

    /** libtorch's intra-op thread count at start (every core, or what OMP_NUM_THREADS says). */
    public static int cores() {
        engine();
        return cores;
    }

    /** [most, now] intra-op threads of this thread; null until it is readied. */
    private static final ThreadLocal<int[]> THREADS = new ThreadLocal<>();
    private static volatile int cores;

    private static void setUp(int most) {
        engine();
        JniUtils.setGradMode(false);
        // libtorch sets a thread's count from a process-wide value at the thread's first parallel
        // region (and set_num_threads changes that value): read it first, so the pin below stays
        JniUtils.getNumThreads();
        JniUtils.setNumThreads(most);
        MklThreading.dynamic();
        THREADS.set(new int[] {most, most});
    }

    private static void setIfAbsent(String property, String env, String value) {
        if (System.getProperty(property) == null && System.getenv(env) == null) {
            System.setProperty(property, value);
        }
    }
}

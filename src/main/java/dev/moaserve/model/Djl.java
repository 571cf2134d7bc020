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
            Engine.getEngine("PyTorch");
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
     * libtorch's grad mode is thread-local and on by default on every thread but the one that
     * created the engine: call this first on each thread that runs inference.
     */
    public static void inferenceThread() {
        engine();
        JniUtils.setGradMode(false);
    }

    private static void setIfAbsent(String property, String env, String value) {
        if (System.getProperty(property) == null && System.getenv(env) == null) {
            System.setProperty(property, value);
        }
    }
}

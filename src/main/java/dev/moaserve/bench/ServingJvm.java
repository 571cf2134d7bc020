package dev.moaserve.bench;

import java.util.List;

/**
 * The JVM flags the server is started with: by the benches that start it ({@link ChildServer}),
 * by the container image (docker/Dockerfile.jvm's {@code JAVA_OPTS}) and in docs/deploy.md's
 * launch line for the jar.
 */
public final class ServingJvm {
    /**
     * C1 only, at a quarter of its default compile rate. The server's time goes to libtorch; its
     * Java (HTTP, SSE, the scheduler) ran no faster at steady state under C2, while C2's compiles
     * took a core from the first seconds of a new replica on a small machine: readiness 0.3–0.5 s
     * later and half the tokens until ~10 s after start (docs/performance.md "Scale-out").
     * Appending {@code -XX:TieredStopAtLevel=4} restores C2.
     */
    public static final List<String> FLAGS = List.of("-XX:TieredStopAtLevel=1", "-XX:CompileThresholdScaling=4");

    private ServingJvm() {}
}

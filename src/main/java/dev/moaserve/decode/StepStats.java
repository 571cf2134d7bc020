package dev.moaserve.decode;

import ai.djl.ndarray.NDScope;

import java.lang.reflect.Field;
import java.util.Map;

/**
 * Counters of a decoder's steps, for benchmarks and tests: steps, rows computed (summed over
 * layers), host↔device transfers, mid-step device syncs, and tensor operations (arrays the steps created).
 */
public final class StepStats {
    private static final Field RESOURCES = resourcesField();

    long steps;
    long rows;
    long transfers;
    long syncs;
    long ops;

    public long steps() {
        return steps;
    }

    /** Window rows computed, summed over layers and steps. */
    public long rows() {
        return rows;
    }

    public long transfers() {
        return transfers;
    }

    /** Times a step waited for the device mid-step (a lazy step reads each layer's row count back). */
    public long syncs() {
        return syncs;
    }

    /** Arrays created by the steps: one or more per tensor operation. */
    public long ops() {
        return ops;
    }

    /** A copy of the counters now, to subtract later. */
    public StepStats snapshot() {
        StepStats s = new StepStats();
        s.steps = steps;
        s.rows = rows;
        s.transfers = transfers;
        s.syncs = syncs;
        s.ops = ops;
        return s;
    }

    /** The counters since {@code earlier}. */
    public StepStats since(StepStats earlier) {
        StepStats s = new StepStats();
        s.steps = steps - earlier.steps;
        s.rows = rows - earlier.rows;
        s.transfers = transfers - earlier.transfers;
        s.syncs = syncs - earlier.syncs;
        s.ops = ops - earlier.ops;
        return s;
    }

    /** Arrays registered in a scope: DJL registers every array an operation creates. */
    static int scopeSize(NDScope scope) {
        if (RESOURCES == null) {
            return 0;
        }
        try {
            return ((Map<?, ?>) RESOURCES.get(scope)).size();
        } catch (IllegalAccessException e) {
            return 0;
        }
    }

    private static Field resourcesField() {
        try {
            Field f = NDScope.class.getDeclaredField("resources");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }
}

package dev.moaserve.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.model.Djl;
import dev.moaserve.model.EncoderForward;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.FullForward;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.Ops;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Text embeddings: one forward of each input, the final hidden states after the model's final
 * norm, pooled over the tokens ({@link Pooling#MEAN}) or taken at the last token
 * ({@link Pooling#LAST}), then L2-normalised. From a MoA encoder ({@link #of(EncoderWeights, int)}:
 * mean pooling, as sentence encoders do) or from an autoregressive model as vLLM serves decoder
 * models ({@link #of(MoaWeights, Pooling, int)}: its full forward, every token visible). Requests
 * wait in a bounded queue and run on one worker thread; inputs of equal length in a request are
 * computed as one batch.
 */
public final class Embedder implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Embedder.class);

    /** How the final hidden states of an input's tokens become one vector. */
    public enum Pooling {
        MEAN, LAST;

        /** {@code mean} or {@code last}, any case. */
        public static Pooling parse(String name) {
            return dev.moaserve.model.EnumNames.parse(Pooling.class, name, "pooling");
        }
    }

    /** One request: its inputs' token ids; the result, one unit vector [D] per input, in order. */
    public static final class Request {
        final String id;
        final List<long[]> inputs;
        final CompletableFuture<float[][]> result = new CompletableFuture<>();
        final AtomicBoolean cancelled = new AtomicBoolean();

        Request(String id, List<long[]> inputs) {
            this.id = id;
            this.inputs = inputs;
        }

        public CompletableFuture<float[][]> result() {
            return result;
        }

        /** The client left: the worker skips it if it has not started. */
        public void cancel() {
            cancelled.set(true);
        }
    }

    /** The model's final normed hidden states: ids [b, n] → [b, n, D], arrays in {@code m}. */
    interface Forward {
        NDArray hidden(NDManager m, NDArray ids);
    }

    private final Forward forward;
    private final NDManager manager;
    private final int dim;
    private final Pooling pooling;
    private final BlockingQueue<Request> queue;
    private final Thread worker;
    private volatile boolean stopped;

    /** Embeddings from an autoregressive model's full forward. */
    public static Embedder of(MoaWeights weights, Pooling pooling, int maxQueue) {
        return new Embedder((m, ids) -> Ops.rmsNorm(FullForward.finalHidden(weights, m, ids, null, false), weights.finalGamma()),
                weights.manager(), weights.config().dim(), pooling, maxQueue);
    }

    /** Embeddings from an encoder: mean over the input's tokens. */
    public static Embedder of(EncoderWeights weights, int maxQueue) {
        return new Embedder((m, ids) -> {
            int[] lengths = new int[(int) ids.getShape().get(0)];
            java.util.Arrays.fill(lengths, (int) ids.getShape().get(1));
            return EncoderForward.forward(weights, m, ids, lengths, null);
        }, weights.manager(), weights.config().dim(), Pooling.MEAN, maxQueue);
    }

    private Embedder(Forward forward, NDManager manager, int dim, Pooling pooling, int maxQueue) {
        this.forward = forward;
        this.manager = manager;
        this.dim = dim;
        this.pooling = pooling;
        this.queue = new ArrayBlockingQueue<>(Math.max(1, maxQueue));
        this.worker = new Thread(this::loop, "moa-embeddings");
        this.worker.setDaemon(true);
        this.worker.start();
    }

    /** Requests waiting for the worker (not the one it runs). */
    public int waitingCount() {
        return queue.size();
    }

    public Pooling pooling() {
        return pooling;
    }

    /** Width of the vectors: the model's dim. */
    public int dimensions() {
        return dim;
    }

    /** Queues a request (token ids already checked against the model); never blocks. */
    public Request submit(String id, List<long[]> inputs) {
        if (stopped) {
            throw new ShuttingDownException("the server is shutting down");
        }
        Request r = new Request(id, List.copyOf(inputs));
        if (!queue.offer(r)) {
            throw new QueueFullException("too many embedding requests are waiting (" + queue.size() + "); retry later");
        }
        return r;
    }

    private void loop() {
        Djl.inferenceThread();
        while (!stopped) {
            Request r;
            try {
                r = queue.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (r == null) {
                continue;
            }
            if (r.cancelled.get()) {
                r.result.cancel(false);
                continue;
            }
            try {
                r.result.complete(embed(r.inputs));
            } catch (RuntimeException e) {
                LOG.warn("embedding request " + r.id + " failed", e);
                r.result.completeExceptionally(e);
            }
        }
    }

    /** Unit vectors [D] of the inputs, in order; equal lengths computed together. */
    float[][] embed(List<long[]> inputs) {
        float[][] out = new float[inputs.size()][];
        Map<Integer, List<Integer>> byLength = new LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            byLength.computeIfAbsent(inputs.get(i).length, k -> new ArrayList<>()).add(i);
        }
        int d = dim;
        for (Map.Entry<Integer, List<Integer>> group : byLength.entrySet()) {
            int n = group.getKey();
            List<Integer> at = group.getValue();
            long[] ids = new long[at.size() * n];
            for (int j = 0; j < at.size(); j++) {
                System.arraycopy(inputs.get(at.get(j)), 0, ids, j * n, n);
            }
            float[] flat;
            try (NDManager m = manager.newSubManager(); NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray normed = forward.hidden(m, m.create(ids, new Shape(at.size(), n)));          // [b, n, D]
                NDArray pooled = pooling == Pooling.MEAN ? normed.mean(new int[] {1})
                        : normed.get(new ai.djl.ndarray.index.NDIndex(":, -1"));                      // [b, D]
                flat = Ops.l2normalize(pooled).toFloatArray();
            }
            for (int j = 0; j < at.size(); j++) {
                out[at.get(j)] = java.util.Arrays.copyOfRange(flat, j * d, (j + 1) * d);
            }
        }
        return out;
    }

    /** Stops taking requests; queued ones fail with a shutdown error. */
    @Override
    public void close() {
        stopped = true;
        try {
            worker.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Request r; (r = queue.poll()) != null; ) {
            r.result.completeExceptionally(new ShuttingDownException("the server shut down before this request ran"));
        }
        LOG.debugf("embeddings stopped (%s pooling)", pooling.name().toLowerCase(Locale.ROOT));
    }
}

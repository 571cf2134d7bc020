package dev.moaserve.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.moaserve.model.Djl;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.decode.ScriptedEncoder;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.NativeMemory;
import org.jboss.logging.Logger;

import java.util.ArrayDeque;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Text embeddings: one forward of each input, the final hidden states after the model's final
 * norm, pooled over the tokens ({@link Pooling#MEAN}) or taken at the last token
 * ({@link Pooling#LAST}), then L2-normalised. From a MoA encoder ({@link #of(EncoderWeights, Limits)}:
 * mean pooling, as sentence encoders do; its program computes {@code EncoderForward}) or from an autoregressive model as vLLM serves decoder
 * models ({@link #of(IncrementalDecoder, MoaWeights, Pooling, Limits)}: its full forward, every token visible).
 *
 * <p>Work is bounded by tokens, never by input count: a request's inputs (longest first) are cut
 * into micro-batches of at most {@link Limits#batchTokens} padded tokens (rows × the longest
 * row), so the memory one forward needs is bounded whatever the request; the requests in progress
 * take turns, one micro-batch each, so a small request is not stuck behind a large one; a request
 * whose client left stops before its next micro-batch. Waiting work is bounded in requests and in
 * tokens (both refused with {@link QueueFullException}: a 429). Right-padding is exact: the
 * autoregressive forward is causal and ranks routed queries among real tokens only, the encoder's
 * forward masks padded positions; pooling reads real positions only.
 */
public final class Embedder implements ComputeLoop.Work, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Embedder.class);

    /** How the final hidden states of an input's tokens become one vector. */
    public enum Pooling {
        MEAN, LAST;

        /** {@code mean} or {@code last}, any case. */
        public static Pooling parse(String name) {
            return dev.moaserve.model.EnumNames.parse(Pooling.class, name, "pooling");
        }
    }

    /**
     * @param batchTokens  most padded tokens in one forward (raised to the context length, so any input fits)
     * @param maxRequests  most requests waiting or in progress
     * @param queuedTokens most tokens waiting or in progress, all requests together
     */
    public record Limits(int batchTokens, int maxRequests, long queuedTokens) {
        /** One request at a time (evaluation, tests). */
        public static Limits single(int batchTokens) {
            return new Limits(batchTokens, 1, Long.MAX_VALUE);
        }
    }

    /** One request: its inputs' token ids; the result, one unit vector [D] per input, in order. */
    public static final class Request {
        final String id;
        final int priority;
        final List<long[]> inputs;
        final int tokens;
        final Integer[] order; // input indices, longest first
        final float[][] vectors;
        int next; // position in order of the next input to embed
        final CompletableFuture<float[][]> result = new CompletableFuture<>();
        final AtomicBoolean cancelled = new AtomicBoolean();

        Request(String id, List<long[]> inputs, int priority) {
            this.id = id;
            this.priority = priority;
            this.inputs = inputs;
            this.tokens = inputs.stream().mapToInt(a -> a.length).sum();
            this.order = new Integer[inputs.size()];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            java.util.Arrays.sort(order, (a, b) -> Integer.compare(inputs.get(b).length, inputs.get(a).length));
            this.vectors = new float[inputs.size()][];
        }

        public CompletableFuture<float[][]> result() {
            return result;
        }

        /** The client left: the worker drops it before its next micro-batch. */
        public void cancel() {
            cancelled.set(true);
        }
    }

    /** The model's final normed hidden states of right-padded rows: ids [b, n] → [b, n, D], arrays in {@code m}. */
    interface Forward {
        NDArray hidden(NDManager m, NDArray ids, int[] lengths);
    }

    /** A request at least this large gives the C heap's free memory back when it ends (and nothing else waits). */
    private static final int TRIM_AFTER_TOKENS = 8192;

    private final Forward forward;
    private final NDManager manager;
    private final int dim;
    private final Pooling pooling;
    private final Limits limits;
    private final int batchTokens;
    private final BlockingQueue<Request> arrivals;
    private final AtomicLong pendingTokens = new AtomicLong();
    private final AtomicInteger pendingRequests = new AtomicInteger();
    private final ComputeLoop loop;
    private final boolean ownLoop;
    private final ArrayDeque<Request> turns = new ArrayDeque<>(); // the loop's thread only
    private final java.util.concurrent.CountDownLatch ended = new java.util.concurrent.CountDownLatch(1);
    private volatile boolean stopped;
    private AutoCloseable owned; // a program this embedder made, closed with it

    /**
     * Embeddings from an autoregressive model's full forward: one call of its decoder's step
     * program per micro-batch ({@link dev.moaserve.decode.WholeRows#hidden}), the decode state untouched. It
     * computes beside the engine's loop, on one intra-op thread ({@link Djl#sideThread}).
     */
    public static Embedder of(IncrementalDecoder decoder, MoaWeights weights, Pooling pooling, Limits limits) {
        return new Embedder(decoder.wholeRows()::hidden, weights.manager(), weights.config().dim(), weights.config().seqLen(), pooling,
                limits, ComputeLoop.start("moa-embeddings", false), true);
    }

    /**
     * Embeddings from an encoder: mean over the input's tokens, one call of its program per
     * micro-batch ({@link ScriptedEncoder}), on a compute thread of its own (every core).
     */
    public static Embedder of(EncoderWeights weights, Limits limits) {
        return of(weights, limits, ComputeLoop.start("moa-embeddings", true), true);
    }

    /** As {@link #of(EncoderWeights, Limits)}, taking its turns on the server's compute loop. */
    public static Embedder of(EncoderWeights weights, Limits limits, ComputeLoop compute) {
        return of(weights, limits, compute, false);
    }

    private static Embedder of(EncoderWeights weights, Limits limits, ComputeLoop compute, boolean ownLoop) {
        ScriptedEncoder program = new ScriptedEncoder(weights);
        Embedder e = new Embedder(program::hidden, weights.manager(), weights.config().dim(), weights.config().seqLen(),
                Pooling.MEAN, limits, compute, ownLoop);
        e.owned = program;
        return e;
    }

    private Embedder(Forward forward, NDManager manager, int dim, int contextLength, Pooling pooling, Limits limits,
                     ComputeLoop loop, boolean ownLoop) {
        this.forward = forward;
        this.manager = manager;
        this.dim = dim;
        this.pooling = pooling;
        this.limits = limits;
        this.batchTokens = Math.max(limits.batchTokens(), contextLength);
        this.arrivals = new LinkedBlockingQueue<>();
        this.loop = loop;
        this.ownLoop = ownLoop;
        loop.add(this);
    }

    /** Requests waiting or in progress. */
    public int waitingCount() {
        return pendingRequests.get();
    }

    public Pooling pooling() {
        return pooling;
    }

    /** Width of the vectors: the model's dim. */
    public int dimensions() {
        return dim;
    }

    /** Most padded tokens in one forward. */
    public int batchTokens() {
        return batchTokens;
    }

    /**
     * Queues a request (token ids already checked against the model); never blocks.
     *
     * @throws QueueFullException when the requests or tokens waiting are at their bound
     */
    public Request submit(String id, List<long[]> inputs) {
        return submit(id, inputs, 0);
    }

    /** As {@link #submit(String, List)}; requests of a lower {@code priority} value take their turns first. */
    public Request submit(String id, List<long[]> inputs, int priority) {
        if (stopped) {
            throw new ShuttingDownException("the server is shutting down");
        }
        Request r = new Request(id, List.copyOf(inputs), priority);
        if (pendingRequests.incrementAndGet() > limits.maxRequests()) {
            pendingRequests.decrementAndGet();
            throw new QueueFullException("too many embedding requests are waiting (" + limits.maxRequests() + "); retry later");
        }
        if (pendingTokens.addAndGet(r.tokens) > limits.queuedTokens() && pendingTokens.get() != r.tokens) {
            pendingTokens.addAndGet(-r.tokens);
            pendingRequests.decrementAndGet();
            throw new QueueFullException("too many embedding tokens are waiting (at most " + limits.queuedTokens()
                    + ", moa.embeddings.max-queued-tokens); retry later");
        }
        arrivals.add(r);
        loop.wake();
        return r;
    }

    /** The first in turn order among the requests of the lowest priority value (all 0 unless asked). */
    private static Request nextTurn(ArrayDeque<Request> turns) {
        Request best = null;
        for (Request r : turns) {
            if (best == null || r.priority < best.priority) {
                best = r;
            }
        }
        turns.remove(best);
        return best;
    }

    /** One micro-batch of the next request in turn; false when none waits. */
    @Override
    public boolean runOnce() {
        arrivals.drainTo(turns);
        if (turns.isEmpty()) {
            return false;
        }
        Request r = nextTurn(turns);
        if (r.cancelled.get()) {
            finish(r);
            r.result.cancel(false);
            return true;
        }
        try {
            embedNext(r);
            if (r.next < r.order.length) {
                turns.add(r); // the others' turn first
            } else {
                finish(r);
                r.result.complete(r.vectors);
            }
        } catch (RuntimeException e) {
            LOG.warn("embedding request " + r.id + " failed", e);
            finish(r);
            r.result.completeExceptionally(e);
        }
        return true;
    }

    @Override
    public int waiting() {
        return pendingRequests.get();
    }

    @Override
    public boolean over() {
        return stopped;
    }

    /** On the loop's thread: what is left fails with a shutdown error; the program this embedder made is freed. */
    @Override
    public void dropped() {
        for (Request r : turns) {
            r.result.completeExceptionally(new ShuttingDownException("the server shut down before this request finished"));
        }
        turns.clear();
        if (owned != null) {
            try {
                owned.close();
            } catch (Exception e) {
                LOG.debug("closing the embeddings program failed", e);
            }
        }
        ended.countDown();
        if (ownLoop) {
            loop.close(0);
        }
    }

    private void finish(Request r) {
        pendingRequests.decrementAndGet();
        pendingTokens.addAndGet(-r.tokens);
        if (r.next > 0 && r.tokens >= TRIM_AFTER_TOKENS && pendingRequests.get() == 0) {
            NativeMemory.trim(); // the forwards' freed tensors back to the system, not kept by malloc's arenas
        }
    }

    /** One micro-batch of the request: its next inputs (longest first) up to the token budget, padded to the longest. */
    private void embedNext(Request r) {
        int longest = r.inputs.get(r.order[r.next]).length;
        int rows = Math.max(1, Math.min(r.order.length - r.next, batchTokens / longest));
        long[] ids = new long[rows * longest];
        int[] lengths = new int[rows];
        for (int j = 0; j < rows; j++) {
            long[] in = r.inputs.get(r.order[r.next + j]);
            System.arraycopy(in, 0, ids, j * longest, in.length);
            lengths[j] = in.length;
        }
        float[] hidden;
        try (NDManager m = manager.newSubManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            hidden = forward.hidden(m, m.create(ids, new Shape(rows, longest)), lengths).toFloatArray(); // [rows, longest, D]
        }
        for (int j = 0; j < rows; j++) {
            r.vectors[r.order[r.next + j]] = pool(hidden, j * longest * dim, lengths[j]);
        }
        r.next += rows;
    }

    /** One row's unit vector from its hidden states at {@code base} (row-major [n, D]), over its {@code length} real tokens. */
    private float[] pool(float[] hidden, int base, int length) {
        double[] acc = new double[dim];
        int from = pooling == Pooling.MEAN ? 0 : length - 1;
        for (int t = from; t < length; t++) {
            for (int d = 0; d < dim; d++) {
                acc[d] += hidden[base + t * dim + d];
            }
        }
        double norm = 0;
        for (double x : acc) {
            norm += x * x;
        }
        double scale = 1.0 / Math.max(Math.sqrt(norm), 1e-12); // the mean's 1/n cancels in the normalisation
        float[] v = new float[dim];
        for (int d = 0; d < dim; d++) {
            v[d] = (float) (acc[d] * scale);
        }
        return v;
    }

    /** Stops taking requests; waiting ones fail with a shutdown error. */
    @Override
    public void close() {
        stopped = true;
        loop.wake();
        try {
            ended.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Request r; (r = arrivals.poll()) != null; ) {
            r.result.completeExceptionally(new ShuttingDownException("the server shut down before this request ran"));
        }
        LOG.debugf("embeddings stopped (%s pooling)", pooling.name().toLowerCase(Locale.ROOT));
    }
}

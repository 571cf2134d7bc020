package dev.moaserve.engine.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dk.brics.automaton.Automaton;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Compiles constraints for one model's vocabulary and keeps the most recently used ones (keyed by
 * the spec's text), so a schema sent with every request is compiled once. Compilation is bounded
 * in time, size and work ({@link Budget}: checked inside the long loops, so the deadline holds
 * for every kind of constraint), stops when its client leaves, and runs on a pool of its own
 * ({@link #submit}: a few threads and a bounded queue), so compilations can never take every
 * worker thread nor the cores decoding needs. The result is deterministic, so following it costs
 * one walk of the vocabulary per position reached, whatever the constraint.
 */
public final class Constraints implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Supplier<Vocabulary> vocabularySource;
    private final int capacity;
    private final long maxMillis;
    private final int maxStates;
    private final Map<String, TokenConstraint> cache;
    private volatile Vocabulary vocabulary;
    private final AtomicLong hits = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();
    private final AtomicLong compileNanos = new AtomicLong();

    private final ThreadPoolExecutor pool;

    /** Bounds of compilation: threads and waiting compilations, deadline, states. */
    public record Limits(int threads, int queue, long maxMillis, int maxStates) {}

    /** @param vocabulary built on the first compilation (reading every token's text takes a while for big vocabularies) */
    public Constraints(Supplier<Vocabulary> vocabulary, int capacity, long maxMillis, int maxStates) {
        this(vocabulary, capacity, new Limits(1, 16, maxMillis, maxStates));
    }

    public Constraints(Supplier<Vocabulary> vocabulary, int capacity, Limits limits) {
        this.pool = new ThreadPoolExecutor(limits.threads(), limits.threads(), 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(Math.max(1, limits.queue())), r -> {
                    Thread t = new Thread(r, "moa-constraint-compiler");
                    t.setDaemon(true);
                    t.setPriority(Thread.MIN_PRIORITY); // below the scheduler's thread: decoding first
                    return t;
                });
        this.pool.allowCoreThreadTimeOut(true);
        this.vocabularySource = vocabulary;
        this.capacity = capacity;
        this.maxMillis = limits.maxMillis();
        this.maxStates = limits.maxStates();
        this.cache = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, TokenConstraint> e) {
                return size() > Constraints.this.capacity;
            }
        };
    }

    /** The compiled constraint if it is cached (counts a hit), else null. */
    public TokenConstraint cached(ConstraintSpec spec) {
        synchronized (cache) {
            TokenConstraint c = cache.get(spec.key());
            if (c != null) {
                hits.incrementAndGet();
            }
            return c;
        }
    }

    /**
     * Compiles (or finds) a constraint. Blocking: call it off the event loop.
     *
     * @throws ConstraintException for an unsupported, unsatisfiable or too costly constraint
     */
    public TokenConstraint compile(ConstraintSpec spec) {
        return compile(spec, () -> false);
    }

    /**
     * Compiles on the compilation pool; {@code abandoned} (the client left) stops it at its next
     * check. The future fails with {@link ConstraintException} for a client error.
     *
     * @throws RejectedExecutionException when the pool's queue is full (a 429)
     */
    public CompletableFuture<TokenConstraint> submit(ConstraintSpec spec, BooleanSupplier abandoned) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return compile(spec, abandoned);
            } catch (StackOverflowError e) { // a regex's groups nested by the thousand: a client error
                throw new ConstraintException("the constraint is nested too deeply to compile");
            }
        }, pool);
    }

    private TokenConstraint compile(ConstraintSpec spec, BooleanSupplier abandoned) {
        TokenConstraint known = cached(spec);
        if (known != null) {
            return known;
        }
        long t0 = System.nanoTime();
        Budget budget = new Budget(maxMillis, maxStates, abandoned);
        Automaton language = switch (spec.kind()) {
            case JSON_SCHEMA -> JsonSchemaAutomaton.of(parse(spec.value()), budget);
            case JSON_OBJECT -> JsonSchemaAutomaton.anyObject(budget);
            case REGEX -> RegexSyntax.fullMatch(spec.value());
            case CHOICE -> choices(parse(spec.value()), budget);
        };
        language = budget.deterministic(budget.done(language, ""), "");
        TokenConstraint c = new TokenConstraint(describe(spec.kind()), language, vocabulary());
        budget.check("");
        compileNanos.addAndGet(System.nanoTime() - t0);
        misses.incrementAndGet();
        synchronized (cache) {
            cache.put(spec.key(), c);
        }
        return c;
    }

    private Vocabulary vocabulary() {
        Vocabulary v = vocabulary;
        if (v == null) {
            synchronized (this) {
                if (vocabulary == null) {
                    vocabulary = vocabularySource.get();
                }
                v = vocabulary;
            }
        }
        return v;
    }

    /** The choices as one deterministic automaton (a trie, minimal), refused up front when its size is over the bound. */
    private static Automaton choices(JsonNode list, Budget budget) {
        long chars = 0;
        String[] texts = new String[list.size()];
        for (int i = 0; i < texts.length; i++) {
            texts[i] = list.get(i).asText();
            chars += texts[i].length();
        }
        if (chars + 1 > budget.maxStates()) {
            throw new ConstraintException("the choices have " + chars + " characters in all; at most " + (budget.maxStates() - 1)
                    + " are compiled (moa.structured-output-max-states)");
        }
        return texts.length == 0 ? Automaton.makeEmpty() : Automaton.makeStringUnion(texts);
    }

    private static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new ConstraintException("malformed JSON in the constraint: " + e.getMessage());
        }
    }

    private static String describe(ConstraintSpec.Kind kind) {
        return switch (kind) {
            case JSON_SCHEMA -> "JSON schema";
            case JSON_OBJECT -> "JSON object constraint";
            case REGEX -> "regular expression";
            case CHOICE -> "choice list";
        };
    }

    public long hits() {
        return hits.get();
    }

    public long misses() {
        return misses.get();
    }

    public double compileSeconds() {
        return compileNanos.get() / 1e9;
    }

    /** Compilations waiting for a thread of the pool. */
    public int waitingCount() {
        return pool.getQueue().size();
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}

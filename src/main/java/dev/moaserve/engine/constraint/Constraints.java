package dev.moaserve.engine.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dk.brics.automaton.Automaton;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Compiles constraints for one model's vocabulary and keeps the most recently used ones (keyed by
 * the spec's text), so a schema sent with every request is compiled once. Compilation is bounded
 * in time and size ({@link Budget}).
 */
public final class Constraints {
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

    /** @param vocabulary built on the first compilation (reading every token's text takes a while for big vocabularies) */
    public Constraints(Supplier<Vocabulary> vocabulary, int capacity, long maxMillis, int maxStates) {
        this.vocabularySource = vocabulary;
        this.capacity = capacity;
        this.maxMillis = maxMillis;
        this.maxStates = maxStates;
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
        TokenConstraint known = cached(spec);
        if (known != null) {
            return known;
        }
        long t0 = System.nanoTime();
        Budget budget = new Budget(maxMillis, maxStates);
        Automaton language = switch (spec.kind()) {
            case JSON_SCHEMA -> JsonSchemaAutomaton.of(parse(spec.value()), budget);
            case JSON_OBJECT -> JsonSchemaAutomaton.anyObject(budget);
            case REGEX -> RegexSyntax.fullMatch(spec.value());
            case CHOICE -> choices(parse(spec.value()));
        };
        language = budget.done(language, "");
        TokenConstraint c = new TokenConstraint(describe(spec.kind()), language, vocabulary());
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

    private static Automaton choices(JsonNode list) {
        Automaton a = Automaton.makeEmpty();
        for (JsonNode c : list) {
            a = a.union(Automaton.makeString(c.asText()));
        }
        return a;
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
}

package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.RunAutomaton;

import java.util.concurrent.ConcurrentHashMap;

/**
 * A compiled constraint over one vocabulary: the automaton (restricted to what the vocabulary can
 * spell) and, per automaton state, the set of tokens that keep the output inside the language,
 * computed on first use and cached (states are shared by every request with the same constraint).
 */
public final class TokenConstraint {
    private final String description;
    private final RunAutomaton run;
    private final Vocabulary vocabulary;
    private final ConcurrentHashMap<Integer, long[]> allowed = new ConcurrentHashMap<>();

    /**
     * @throws ConstraintException when no output the vocabulary can spell is accepted
     */
    TokenConstraint(String description, Automaton language, Vocabulary vocabulary) {
        this.description = description;
        this.vocabulary = vocabulary;
        // only texts spelled by single-character tokens are certainly reachable; the restriction also
        // removes every state from which the vocabulary could never finish (dead ends)
        if (language.isEmpty()) {
            throw new ConstraintException("no output satisfies this " + description);
        }
        Automaton spellable = Automaton.makeCharSet(vocabulary.singles.toString()).repeat();
        Automaton a = language.intersection(spellable);
        a.removeDeadTransitions(); // states from which nothing spellable is accepted have no way in
        if (a.isEmpty()) {
            throw new ConstraintException("the model's vocabulary cannot produce any output this " + description
                    + " accepts (its tokens lack characters the constraint needs)");
        }
        this.run = new RunAutomaton(a);
    }

    public String description() {
        return description;
    }

    int initialState() {
        return run.getInitialState();
    }

    boolean accepting(int state) {
        return run.isAccept(state);
    }

    /** The state after the token's text, or −1 if it leaves the language. */
    int step(int state, int token) {
        String t = vocabulary.texts[token];
        if (t == null || t.isEmpty()) {
            return -1;
        }
        int s = state;
        for (int i = 0; i < t.length() && s >= 0; i++) {
            s = run.step(s, t.charAt(i));
        }
        return s;
    }

    /** The tokens allowed in {@code state}, as a bit set over the vocabulary (do not modify). */
    long[] allowed(int state) {
        return allowed.computeIfAbsent(state, this::compute);
    }

    private long[] compute(int state) {
        long[] bits = new long[(vocabulary.size + 63) / 64];
        walk(vocabulary.root, state, bits);
        return bits;
    }

    private void walk(Vocabulary.Node node, int state, long[] bits) {
        for (var e : node.next.entrySet()) {
            int s = run.step(state, e.getKey());
            if (s < 0) {
                continue;
            }
            for (int id : e.getValue().tokens) {
                bits[id >> 6] |= 1L << (id & 63);
            }
            walk(e.getValue(), s, bits);
        }
    }

    static boolean isEmpty(long[] bits) {
        for (long b : bits) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    /** A sequence's position in the constraint. */
    public Cursor start() {
        return new Cursor(this);
    }

    /** One sequence's state in its constraint; used by the scheduler thread only. */
    public static final class Cursor {
        private final TokenConstraint c;
        private int state;

        Cursor(TokenConstraint c) {
            this.c = c;
            this.state = c.initialState();
        }

        /** The tokens allowed next, as a bit set over the vocabulary. */
        public long[] allowed() {
            return c.allowed(state);
        }

        public boolean isAllowed(int token) {
            long[] bits = allowed();
            return token >= 0 && (token >> 6) < bits.length && (bits[token >> 6] & (1L << (token & 63))) != 0;
        }

        /** Moves past a sampled token (an allowed one). */
        public void advance(int token) {
            int s = c.step(state, token);
            if (s < 0) {
                throw new IllegalStateException("token " + token + " is outside the constraint");
            }
            state = s;
        }

        /** The output so far is complete: accepted, and no token can extend it. */
        public boolean complete() {
            return c.accepting(state) && isEmpty(allowed());
        }

        /**
         * The output so far is accepted but could go on (a number's digits, a regex's {@code +}):
         * then the model may end it, by preferring a token outside the language.
         */
        public boolean mayEnd() {
            return c.accepting(state) && !isEmpty(allowed());
        }
    }
}

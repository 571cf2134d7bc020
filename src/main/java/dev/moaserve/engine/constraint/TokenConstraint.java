package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A compiled constraint over one vocabulary. A position is the set of automaton states the output
 * can be in, created when generation first reaches it; {@link Constraints} hands over a
 * deterministic automaton, so each set is one state and finding a position's allowed tokens is one
 * walk of the vocabulary's trie, a cost bounded by the vocabulary whatever the constraint (a
 * nondeterministic automaton would multiply it by the set's size). Per position the allowed tokens
 * are cached, up to {@link #MAX_CACHED_BYTES} per constraint (past that they are walked again when
 * needed); positions are shared by every request with the same constraint.
 *
 * <p>Only states from which the vocabulary can finish the output count ("live": an accepting
 * state is reachable through characters that are tokens on their own), so a token never leads
 * into a dead end.
 */
public final class TokenConstraint {
    /** Most bytes of allowed-token sets one constraint keeps (a set is the vocabulary's size in bits). */
    static final long MAX_CACHED_BYTES = 16L << 20;

    private final String description;
    private final Vocabulary vocabulary;
    // the automaton as arrays: per state its transitions' ranges and targets (live targets only)
    private final char[][] min;
    private final char[][] max;
    private final int[][] dest;
    private final boolean[] accept;
    // positions: sets of states, interned
    private final Map<StateSet, Integer> ids = new HashMap<>();
    private final List<int[]> sets = new ArrayList<>();
    private final List<long[]> allowed = new ArrayList<>();
    private final int initial;
    private long cachedBytes;

    /**
     * @throws ConstraintException when no output is accepted, or none the vocabulary can spell
     */
    TokenConstraint(String description, Automaton language, Vocabulary vocabulary) {
        this.description = description;
        this.vocabulary = vocabulary;
        Nfa a = new Nfa(language);
        int n = a.size();
        if (!live(a, null).get(0)) {
            throw new ConstraintException("no output satisfies this " + description);
        }
        BitSet live = live(a, vocabulary.singles.toString());
        if (!live.get(0)) {
            throw new ConstraintException("the model's vocabulary cannot produce any output this " + description
                    + " accepts (its tokens lack characters the constraint needs)");
        }
        min = new char[n][];
        max = new char[n][];
        dest = new int[n][];
        accept = a.accept;
        for (int i = 0; i < n; i++) {
            int kept = 0;
            for (int k = 0; k < a.dest[i].length; k++) {
                kept += live.get(a.dest[i][k]) ? 1 : 0;
            }
            min[i] = new char[kept];
            max[i] = new char[kept];
            dest[i] = new int[kept];
            int j = 0;
            for (int k = 0; k < a.dest[i].length; k++) {
                if (live.get(a.dest[i][k])) {
                    min[i][j] = a.min[i][k];
                    max[i][j] = a.max[i][k];
                    dest[i][j++] = a.dest[i][k];
                }
            }
        }
        initial = intern(new int[] {0});
        allowed(initial); // the first position every request needs: walked here, off the scheduler's thread
    }

    /** States from which an accepting state is reachable through characters of {@code chars} (null: any). */
    private static BitSet live(Nfa a, String chars) {
        int n = a.size();
        List<List<Integer>> into = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            into.add(new ArrayList<>());
        }
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < a.dest[i].length; k++) {
                if (chars == null || spells(a.min[i][k], a.max[i][k], chars)) {
                    into.get(a.dest[i][k]).add(i);
                }
            }
        }
        BitSet live = new BitSet(n);
        ArrayDeque<Integer> todo = new ArrayDeque<>();
        for (int i = 0; i < n; i++) {
            if (a.accept[i]) {
                live.set(i);
                todo.add(i);
            }
        }
        while (!todo.isEmpty()) {
            for (int p : into.get(todo.poll())) {
                if (!live.get(p)) {
                    live.set(p);
                    todo.add(p);
                }
            }
        }
        return live;
    }

    private static boolean spells(char lo, char hi, String chars) {
        for (int i = 0; i < chars.length(); i++) {
            char c = chars.charAt(i);
            if (c >= lo && c <= hi) {
                return true;
            }
        }
        return false;
    }

    private synchronized int intern(int[] set) {
        StateSet k = new StateSet(set);
        Integer id = ids.get(k);
        if (id == null) {
            id = sets.size();
            ids.put(k, id);
            sets.add(set);
            allowed.add(null);
        }
        return id;
    }

    /** The state sets' successor on one character, or null when no state has a way on. */
    private int[] next(int[] set, char c) {
        int[] out = null;
        int size = 0;
        for (int s : set) {
            char[] lo = min[s];
            for (int k = 0; k < lo.length; k++) {
                if (c >= lo[k] && c <= max[s][k]) {
                    if (out == null) {
                        out = new int[4];
                    } else if (size == out.length) {
                        out = Arrays.copyOf(out, size * 2);
                    }
                    out[size++] = dest[s][k];
                }
            }
        }
        return out == null ? null : StateSet.sortedUnique(out, size);
    }

    private boolean accepting(int position) {
        for (int s : sets.get(position)) {
            if (accept[s]) {
                return true;
            }
        }
        return false;
    }

    /** The position after the token's text, or −1 if it leaves the language. */
    private int step(int position, int token) {
        String t = vocabulary.texts[token];
        if (t == null || t.isEmpty() || t.indexOf('\uFFFD') >= 0) {
            return -1;
        }
        int[] set = sets.get(position);
        for (int i = 0; i < t.length() && set != null; i++) {
            set = next(set, t.charAt(i));
        }
        return set == null ? -1 : intern(set);
    }

    /** The tokens allowed at a position, as a bit set over the vocabulary (do not modify). */
    private long[] allowed(int position) {
        long[] bits;
        synchronized (this) {
            bits = allowed.get(position);
        }
        if (bits == null) {
            bits = new long[(vocabulary.size + 63) / 64];
            int[] set;
            synchronized (this) {
                set = sets.get(position);
            }
            walk(vocabulary.root, set, bits);
            synchronized (this) {
                if (allowed.get(position) == null && cachedBytes + 8L * bits.length <= MAX_CACHED_BYTES) {
                    allowed.set(position, bits);
                    cachedBytes += 8L * bits.length;
                }
            }
        }
        return bits;
    }

    private void walk(Vocabulary.Node node, int[] set, long[] bits) {
        for (var e : node.next.entrySet()) {
            int[] s = next(set, e.getKey());
            if (s == null) {
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

    /** One sequence's position in its constraint; used by the engine loop's thread only. */
    public static final class Cursor {
        private final TokenConstraint c;
        private int position;
        private long[] allowed; // the current position's, looked up once (the shared cache is locked)

        Cursor(TokenConstraint c) {
            this.c = c;
            this.position = c.initial;
        }

        /** The tokens allowed next, as a bit set over the vocabulary (do not modify). */
        public long[] allowed() {
            if (allowed == null) {
                allowed = c.allowed(position);
            }
            return allowed;
        }

        public boolean isAllowed(int token) {
            long[] bits = allowed();
            return token >= 0 && (token >> 6) < bits.length && (bits[token >> 6] & (1L << (token & 63))) != 0;
        }

        /** Moves past a sampled token (an allowed one). */
        public void advance(int token) {
            int p = c.step(position, token);
            if (p < 0) {
                throw new IllegalStateException("token " + token + " is outside the constraint");
            }
            position = p;
            allowed = null;
        }

        /** The output so far is complete: accepted, and no token can extend it. */
        public boolean complete() {
            return c.accepting(position) && isEmpty(allowed());
        }

        /**
         * The output so far is accepted but could go on (a number's digits, a regex's {@code +}):
         * then the model may end it, by preferring a token outside the language.
         */
        public boolean mayEnd() {
            return c.accepting(position) && !isEmpty(allowed());
        }
    }
}

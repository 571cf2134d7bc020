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
 *
 * <p><b>The budget rule.</b> Each state knows the fewest tokens that finish the output from it
 * ({@link #finish}: single-character tokens along the shortest accepted path, so that many tokens
 * always suffice). With {@code left} tokens to go, a token is allowed only if the output can
 * still finish in the {@code left − 1} after it ({@link Cursor#allowedWithin}), so a constrained
 * answer is always complete when its budget ends, and never cut mid-JSON, as long as its budget
 * covered the shortest answer at the start ({@link #shortest}).
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
    /** Per automaton state, the fewest tokens that finish the output from it (MAX_VALUE: none do). */
    private final int[] finish;
    /** Per position, the most tokens any of its allowed tokens leaves to finish (−1: not computed yet). */
    private final List<Integer> farthest = new ArrayList<>();

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
        finish = finishing(a, vocabulary.singles.toString(), n);
        initial = intern(new int[] {0});
        allowed(initial); // the first position every request needs: walked here, off the scheduler's thread
    }

    /**
     * Per state, the fewest characters of {@code chars} (each a token on its own) to an accepting
     * state: a breadth-first search from the accepting states over the reversed transitions.
     */
    private static int[] finishing(Nfa a, String chars, int n) {
        List<List<Integer>> into = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            into.add(new ArrayList<>());
        }
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < a.dest[i].length; k++) {
                if (spells(a.min[i][k], a.max[i][k], chars)) {
                    into.get(a.dest[i][k]).add(i);
                }
            }
        }
        int[] d = new int[n];
        Arrays.fill(d, Integer.MAX_VALUE);
        ArrayDeque<Integer> todo = new ArrayDeque<>();
        for (int i = 0; i < n; i++) {
            if (a.accept[i]) {
                d[i] = 0;
                todo.add(i);
            }
        }
        while (!todo.isEmpty()) {
            int q = todo.poll();
            for (int p : into.get(q)) {
                if (d[p] == Integer.MAX_VALUE) {
                    d[p] = d[q] + 1;
                    todo.add(p);
                }
            }
        }
        return d;
    }

    /** The fewest tokens that finish the output from a position. */
    private int finish(int position) {
        int best = Integer.MAX_VALUE;
        for (int s : sets.get(position)) {
            best = Math.min(best, finish[s]);
        }
        return best;
    }

    /** The fewest tokens of any output this constraint accepts: a budget below it cannot be met. */
    public int shortest() {
        return finish(initial);
    }

    /** The most tokens any allowed token at {@code position} leaves to finish (computed once per position). */
    private int farthest(int position) {
        Integer known;
        synchronized (this) {
            known = farthest.get(position);
        }
        if (known >= 0) {
            return known;
        }
        int most = 0;
        long[] bits = allowed(position);
        for (int t = nextSet(bits, 0); t >= 0; t = nextSet(bits, t + 1)) {
            int p = step(position, t);
            most = Math.max(most, p < 0 ? 0 : finish(p));
        }
        synchronized (this) {
            farthest.set(position, most);
        }
        return most;
    }

    /** The tokens allowed at {@code position} that leave at most {@code tokens} to finish. */
    private long[] within(int position, int tokens) {
        long[] bits = allowed(position);
        long[] out = new long[bits.length];
        for (int t = nextSet(bits, 0); t >= 0; t = nextSet(bits, t + 1)) {
            int p = step(position, t);
            if (p >= 0 && finish(p) <= tokens) {
                out[t >> 6] |= 1L << (t & 63);
            }
        }
        return out;
    }

    private static int nextSet(long[] bits, int from) {
        int w = from >> 6;
        if (w >= bits.length) {
            return -1;
        }
        long word = bits[w] & (-1L << (from & 63));
        while (true) {
            if (word != 0) {
                return w * 64 + Long.numberOfTrailingZeros(word);
            }
            if (++w == bits.length) {
                return -1;
            }
            word = bits[w];
        }
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
            farthest.add(-1);
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

        /**
         * The tokens allowed next when {@code left} tokens remain (this one included): those after
         * which the output can still finish in {@code left − 1}; null when the budget rules none of
         * the allowed tokens out (then {@link #allowed} is the whole answer), or when the output
         * cannot finish in {@code left} whatever comes (a budget the API did not check: the output
         * is then cut at its end, as without the rule, never left without a token to take).
         */
        public long[] allowedWithin(int left) {
            if (c.finish(position) > left || c.farthest(position) <= left - 1) {
                return null;
            }
            return c.within(position, left - 1);
        }

        /** The output so far is accepted (it may still go on). */
        public boolean accepted() {
            return c.accepting(position);
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

package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.State;
import dk.brics.automaton.Transition;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Intersection and difference as a product over reachable state pairs, under a {@link Budget}
 * (dk.brics' own cannot be stopped, and its difference makes the subtrahend deterministic
 * unbounded). Every pair made and every pair of transitions compared counts against the budget.
 */
final class Product {
    /** The right side's missing state (a difference's right side is complete through it). */
    private static final int NONE = -1;

    private final Nfa a;
    private final Nfa b;
    private final boolean minus;
    private final Budget budget;
    private final String at;
    private final Map<Long, State> made = new HashMap<>();
    private final ArrayDeque<long[]> todo = new ArrayDeque<>();

    private Product(Nfa a, Nfa b, boolean minus, Budget budget, String at) {
        this.a = a;
        this.b = b;
        this.minus = minus;
        this.budget = budget;
        this.at = at;
    }

    /** Strings both accept. */
    static Automaton intersection(Automaton x, Automaton y, Budget budget, String at) {
        return new Product(new Nfa(x), new Nfa(y), false, budget, at).run();
    }

    /** Strings {@code x} accepts and {@code y} does not ({@code y} is made deterministic first, under the budget). */
    static Automaton minus(Automaton x, Automaton y, Budget budget, String at) {
        return new Product(new Nfa(x), new Nfa(Determinizer.of(y, budget, at)), true, budget, at).run();
    }

    private Automaton run() {
        State initial = pair(0, 0);
        while (!todo.isEmpty()) {
            long[] p = todo.poll();
            expand(made.get(key((int) p[0], (int) p[1])), (int) p[0], (int) p[1]);
        }
        Automaton out = new Automaton();
        out.setInitialState(initial);
        out.setDeterministic(false);
        out.removeDeadTransitions();
        return out;
    }

    private static long key(int qa, int qb) {
        return ((long) qa << 32) | (qb - (long) NONE);
    }

    private State pair(int qa, int qb) {
        long k = key(qa, qb);
        State s = made.get(k);
        if (s == null) {
            budget.expect(made.size() + 1L, at);
            s = new State();
            boolean inB = qb != NONE && b.accept[qb];
            s.setAccept(a.accept[qa] && (minus ? !inB : inB));
            made.put(k, s);
            todo.add(new long[] {qa, qb});
        }
        return s;
    }

    private void expand(State from, int qa, int qb) {
        int nb = qb == NONE ? 0 : b.min[qb].length;
        budget.work((long) a.min[qa].length * (nb + 1), at);
        for (int i = 0; i < a.min[qa].length; i++) {
            char lo = a.min[qa][i], hi = a.max[qa][i];
            int da = a.dest[qa][i];
            int uncovered = lo; // a difference: the parts of [lo, hi] that b has no transition for go to NONE
            for (int j = 0; j < nb; j++) {
                char blo = b.min[qb][j], bhi = b.max[qb][j];
                if (bhi < lo || blo > hi) {
                    continue;
                }
                int from2 = Math.max(lo, blo), to = Math.min(hi, bhi);
                if (minus && from2 > uncovered) {
                    from.addTransition(new Transition((char) uncovered, (char) (from2 - 1), pair(da, NONE)));
                }
                from.addTransition(new Transition((char) from2, (char) to, pair(da, b.dest[qb][j])));
                uncovered = Math.max(uncovered, to + 1);
            }
            if (minus && uncovered <= hi) {
                from.addTransition(new Transition((char) uncovered, hi, pair(da, NONE)));
            }
        }
    }
}

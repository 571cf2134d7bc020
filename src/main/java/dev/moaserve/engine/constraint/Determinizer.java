package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.State;
import dk.brics.automaton.Transition;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Subset construction under a {@link Budget}: dk.brics' own {@code determinize()} cannot be
 * stopped, and a small regex can have an exponential deterministic automaton
 * ({@code (a|b)*a(a|b){18}}: 2^19 states). Here every new state and every transition scanned
 * counts against the budget, so the construction ends (with a client error) at its state bound,
 * its work bound or its deadline, whichever comes first, and when the client leaves.
 */
final class Determinizer {
    /** Most NFA-state indices held by all subsets together (4 bytes each): the construction's memory. */
    static final long MAX_SUBSET_ENTRIES = 16_000_000L;

    private final Budget budget;
    private final String at;
    private final char[][] min;
    private final char[][] max;
    private final int[][] dest;
    private final boolean[] accept;
    private final Map<StateSet, State> made = new HashMap<>();
    private final ArrayDeque<State> todo = new ArrayDeque<>();
    private final Map<State, int[]> subsetOf = new IdentityHashMap<>();
    private long entries;

    private Determinizer(Automaton a, Budget budget, String at) {
        this.budget = budget;
        this.at = at;
        Nfa nfa = new Nfa(a);
        min = nfa.min;
        max = nfa.max;
        dest = nfa.dest;
        accept = nfa.accept;
    }

    /**
     * The deterministic automaton of {@code a}'s language ({@code a} itself when it already is one).
     *
     * @throws ConstraintException over the budget's states, deadline or {@link #MAX_SUBSET_ENTRIES}
     */
    static Automaton of(Automaton a, Budget budget, String at) {
        if (a.isDeterministic()) {
            return a;
        }
        return new Determinizer(a, budget, at).run();
    }

    private Automaton run() {
        State initial = stateOf(new int[] {0});
        while (!todo.isEmpty()) {
            State s = todo.poll();
            expand(s, subsetOf.get(s));
        }
        Automaton out = new Automaton();
        out.setInitialState(initial);
        out.setDeterministic(true);
        out.reduce();
        return out;
    }

    private State stateOf(int[] subset) {
        StateSet key = new StateSet(subset);
        State s = made.get(key);
        if (s == null) {
            budget.expect(made.size() + 1L, at);
            entries += subset.length;
            if (entries > MAX_SUBSET_ENTRIES) {
                throw new ConstraintException("the constraint is too costly to make deterministic (at schema" + at
                        + "); simplify it (fewer overlapping alternatives under repetitions)");
            }
            s = new State();
            for (int q : subset) {
                if (accept[q]) {
                    s.setAccept(true);
                    break;
                }
            }
            made.put(key, s);
            subsetOf.put(s, subset);
            todo.add(s);
        }
        return s;
    }

    /**
     * The subset's transitions: the character axis cut at every transition's ends, and each piece
     * sent to the subset of states reachable on it.
     */
    private void expand(State from, int[] subset) {
        int count = 0;
        for (int q : subset) {
            count += min[q].length;
        }
        int[] cuts = new int[2 * count];
        int c = 0;
        for (int q : subset) {
            for (int k = 0; k < min[q].length; k++) {
                cuts[c++] = min[q][k];
                cuts[c++] = max[q][k] + 1;
            }
        }
        Arrays.sort(cuts);
        int unique = 0;
        for (int i = 0; i < cuts.length; i++) {
            if (i == 0 || cuts[i] != cuts[i - 1]) {
                cuts[unique++] = cuts[i];
            }
        }
        budget.work((long) unique * count, at);
        int[] targets = new int[16];
        for (int p = 0; p + 1 < unique; p++) {
            int lo = cuts[p];
            int size = 0;
            for (int q : subset) {
                for (int k = 0; k < min[q].length; k++) {
                    if (min[q][k] <= lo && lo <= max[q][k]) {
                        if (size == targets.length) {
                            targets = Arrays.copyOf(targets, size * 2);
                        }
                        targets[size++] = dest[q][k];
                    }
                }
            }
            if (size > 0) {
                from.addTransition(new Transition((char) lo, (char) (cuts[p + 1] - 1), stateOf(StateSet.sortedUnique(targets, size))));
            }
        }
    }
}

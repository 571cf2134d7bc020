package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.State;
import dk.brics.automaton.Transition;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * An automaton's reachable states as arrays, state 0 initial: per state its transitions' ranges
 * ({@code min[s][k]..max[s][k]}, sorted by {@code min}) and targets; the form the bounded
 * constructions ({@link Determinizer}, {@link Product}) walk.
 */
final class Nfa {
    final char[][] min;
    final char[][] max;
    final int[][] dest;
    final boolean[] accept;

    Nfa(Automaton a) {
        Map<State, Integer> index = new IdentityHashMap<>();
        List<State> states = new ArrayList<>();
        ArrayDeque<State> queue = new ArrayDeque<>();
        index.put(a.getInitialState(), 0);
        states.add(a.getInitialState());
        queue.add(a.getInitialState());
        while (!queue.isEmpty()) {
            for (Transition t : queue.poll().getTransitions()) {
                if (!index.containsKey(t.getDest())) {
                    index.put(t.getDest(), states.size());
                    states.add(t.getDest());
                    queue.add(t.getDest());
                }
            }
        }
        int n = states.size();
        min = new char[n][];
        max = new char[n][];
        dest = new int[n][];
        accept = new boolean[n];
        for (int i = 0; i < n; i++) {
            State s = states.get(i);
            accept[i] = s.isAccept();
            List<Transition> ts = s.getSortedTransitions(false);
            min[i] = new char[ts.size()];
            max[i] = new char[ts.size()];
            dest[i] = new int[ts.size()];
            for (int k = 0; k < ts.size(); k++) {
                min[i][k] = ts.get(k).getMin();
                max[i][k] = ts.get(k).getMax();
                dest[i][k] = index.get(ts.get(k).getDest());
            }
        }
    }

    int size() {
        return accept.length;
    }
}

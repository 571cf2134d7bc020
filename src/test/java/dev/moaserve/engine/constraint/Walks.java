package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.State;
import dk.brics.automaton.Transition;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Random strings of an automaton's language: a random walk, then the shortest way to acceptance. */
final class Walks {
    private final Automaton a;
    private final Map<State, Integer> toAccept = new HashMap<>();

    Walks(Automaton automaton) {
        this.a = automaton.clone();
        a.determinize();
        // distance to an accepting state, by breadth-first search over reversed transitions
        Map<State, List<State>> into = new HashMap<>();
        for (State s : a.getStates()) {
            for (Transition t : s.getTransitions()) {
                into.computeIfAbsent(t.getDest(), k -> new ArrayList<>()).add(s);
            }
        }
        ArrayDeque<State> queue = new ArrayDeque<>();
        for (State s : a.getAcceptStates()) {
            toAccept.put(s, 0);
            queue.add(s);
        }
        while (!queue.isEmpty()) {
            State s = queue.poll();
            for (State p : into.getOrDefault(s, List.of())) {
                if (!toAccept.containsKey(p)) {
                    toAccept.put(p, toAccept.get(s) + 1);
                    queue.add(p);
                }
            }
        }
    }

    String sample(Random random, int wander) {
        StringBuilder out = new StringBuilder();
        State s = a.getInitialState();
        for (int step = 0; step < wander; step++) {
            if (s.isAccept() && random.nextInt(4) == 0) {
                return out.toString();
            }
            List<Transition> live = new ArrayList<>();
            for (Transition t : s.getTransitions()) {
                if (toAccept.containsKey(t.getDest())) {
                    live.add(t);
                }
            }
            if (live.isEmpty()) {
                break;
            }
            Transition t = live.get(random.nextInt(live.size()));
            out.append(pick(t, random));
            s = t.getDest();
        }
        while (!s.isAccept()) {
            Transition best = null;
            for (Transition t : s.getTransitions()) {
                Integer d = toAccept.get(t.getDest());
                if (d != null && (best == null || d < toAccept.get(best.getDest()))) {
                    best = t;
                }
            }
            out.append(pick(best, random));
            s = best.getDest();
        }
        return out.toString();
    }

    /** A character of the transition's range, mostly printable ASCII where the range has some. */
    private static char pick(Transition t, Random random) {
        char lo = t.getMin();
        char hi = t.getMax();
        char plo = (char) Math.max(lo, 0x20);
        char phi = (char) Math.min(hi, 0x7e);
        if (plo <= phi && random.nextInt(10) > 0) {
            return (char) (plo + random.nextInt(phi - plo + 1));
        }
        if (lo >= 0xD800 && hi <= 0xDFFF) {
            return (char) (lo + random.nextInt(hi - lo + 1));
        }
        char c = (char) (lo + random.nextInt(hi - lo + 1));
        return c >= 0xD800 && c <= 0xDFFF ? lo : c;
    }
}

package dev.moaserve.engine.constraint;

import dk.brics.automaton.Automaton;
import dk.brics.automaton.State;
import dk.brics.automaton.StatePair;
import dk.brics.automaton.Transition;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A JSON object's members as automata, from one automaton per declared member ({@code "name":value}):
 * in declared order as the server writes them, or in any order as a validator accepts them.
 */
final class ObjectMembers {
    private ObjectMembers() {}

    /**
     * The widened object: its members in any order and number (required ones may be missing),
     * plus, unless {@code closed} (additionalProperties false), members of other names with any
     * text after them.
     */
    static Automaton anyOrder(List<Automaton> members, List<String> names, boolean closed) {
        Automaton member = Automaton.union(members);
        if (!closed) {
            // deterministic as built, so the difference below never determinises an automaton itself
            Automaton declared = Automaton.makeStringUnion(names.stream().map(JsonSchemaAutomaton::quote).toArray(String[]::new));
            member = member.union(JsonText.string().minus(declared).concatenate(Automaton.makeChar(':'))
                    .concatenate(Automaton.makeAnyString()));
        }
        Automaton list = member.concatenate(Automaton.makeChar(',').concatenate(member).repeat()).optional();
        return Automaton.makeChar('{').concatenate(list).concatenate(Automaton.makeChar('}'));
    }

    /**
     * {@code {members}} in declared order, each optional one present or not, commas between the
     * present ones: hub states "before member i, something written yet or not", one copy of each
     * member between hubs, ε-moves past optional ones; one determinisation at the end (building it
     * from unions of the tails instead costs time exponential in the optional members).
     */
    static Automaton declaredOrder(List<Automaton> members, List<String> names, Set<String> required) {
        int n = members.size();
        State start = new State();
        State end = new State();
        end.setAccept(true);
        State[][] hub = new State[n + 1][2];
        for (State[] h : hub) {
            h[0] = new State();
            h[1] = new State();
        }
        start.addTransition(new Transition('{', hub[0][1]));
        hub[n][0].addTransition(new Transition('}', end));
        hub[n][1].addTransition(new Transition('}', end));
        List<StatePair> epsilons = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            for (int first = 0; first < 2; first++) {
                Automaton m = (first == 1 ? members.get(i).clone() : Automaton.makeChar(',').concatenate(members.get(i)));
                epsilons.add(new StatePair(hub[i][first], m.getInitialState()));
                for (State accept : m.getAcceptStates()) {
                    accept.setAccept(false);
                    epsilons.add(new StatePair(accept, hub[i + 1][0]));
                }
                if (!required.contains(names.get(i))) {
                    epsilons.add(new StatePair(hub[i][first], hub[i + 1][first]));
                }
            }
        }
        Automaton a = new Automaton();
        a.setInitialState(start);
        a.setDeterministic(false);
        a.addEpsilons(epsilons);
        return a; // determinised once, by the caller
    }
}

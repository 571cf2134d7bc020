package dev.moaserve.engine.constraint;

import java.util.Arrays;

/** A set of automaton states as sorted indices, by value: the key of a position or of a determinised state. */
record StateSet(int[] states) {
    @Override
    public boolean equals(Object o) {
        return o instanceof StateSet k && Arrays.equals(states, k.states);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(states);
    }

    /** The first {@code size} of {@code values}, sorted, without repeats (a new array). */
    static int[] sortedUnique(int[] values, int size) {
        int[] s = Arrays.copyOf(values, size);
        Arrays.sort(s);
        int unique = 0;
        for (int i = 0; i < s.length; i++) {
            if (i == 0 || s[i] != s[i - 1]) {
                s[unique++] = s[i];
            }
        }
        return unique == s.length ? s : Arrays.copyOf(s, unique);
    }

    @Override
    public String toString() {
        return Arrays.toString(states);
    }
}

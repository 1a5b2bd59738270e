package org.tessel.search;

import java.util.Arrays;
import org.tessel.search.domain.Choice;

/**
 * A complete plan in plain arrays: the choice for every node (by node index) and, for every
 * fusion candidate, whether it is fused. What baselines produce and the evaluator scores.
 */
public record Assignment(Choice[] choices, boolean[] fused) {
    public Assignment {
        choices = choices.clone();
        fused = fused.clone();
    }

    public Choice choice(int node) { return choices[node]; }

    public boolean isFused(int candidate) { return fused[candidate]; }

    public Format format(int node) { return choices[node].format(); }

    public Assignment withChoice(int node, Choice c) {
        Choice[] cs = choices.clone();
        cs[node] = c;
        return new Assignment(cs, fused);
    }

    public Assignment withFused(int candidate, boolean f) {
        boolean[] fs = fused.clone();
        fs[candidate] = f;
        return new Assignment(choices, fs);
    }

    @Override public boolean equals(Object o) {
        return o instanceof Assignment a && Arrays.equals(choices, a.choices) && Arrays.equals(fused, a.fused);
    }

    @Override public int hashCode() { return 31 * Arrays.hashCode(choices) + Arrays.hashCode(fused); }

    @Override public String toString() { return Arrays.toString(choices) + " fused=" + Arrays.toString(fused); }
}

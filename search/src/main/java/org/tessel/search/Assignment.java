package org.tessel.search;

import java.util.Arrays;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.FusedChoice;

/**
 * A complete plan in plain arrays: the choice for every node (by node index) and, for every
 * fusion candidate, whether it is fused. What baselines produce and the evaluator scores.
 * {@code ruleFused}: a fused group runs the fused tactic the fixed rule prefers at its root's format
 * ({@link SearchProblem.Candidate#ruleFused}) rather than the fastest; the rule strategy's plans only.
 */
public record Assignment(Choice[] choices, boolean[] fused, boolean ruleFused) {
    public Assignment {
        choices = choices.clone();
        fused = fused.clone();
    }

    public Assignment(Choice[] choices, boolean[] fused) { this(choices, fused, false); }

    /** The fused tactic candidate {@code c} runs at root format {@code rootFormat} in this plan (null: none). */
    public FusedChoice fusedChoice(SearchProblem.Candidate c, Format rootFormat) { return c.fusedChoice(rootFormat, ruleFused); }

    public Choice choice(int node) { return choices[node]; }

    public boolean isFused(int candidate) { return fused[candidate]; }

    public Format format(int node) { return choices[node].format(); }

    public Assignment withChoice(int node, Choice c) {
        Choice[] cs = choices.clone();
        cs[node] = c;
        return new Assignment(cs, fused, ruleFused);
    }

    public Assignment withFused(int candidate, boolean f) {
        boolean[] fs = fused.clone();
        fs[candidate] = f;
        return new Assignment(choices, fs, ruleFused);
    }

    @Override public boolean equals(Object o) {
        return o instanceof Assignment a && Arrays.equals(choices, a.choices) && Arrays.equals(fused, a.fused) && ruleFused == a.ruleFused;
    }

    @Override public int hashCode() { return 31 * (31 * Arrays.hashCode(choices) + Arrays.hashCode(fused)) + Boolean.hashCode(ruleFused); }

    @Override public String toString() { return Arrays.toString(choices) + " fused=" + Arrays.toString(fused); }
}

package org.tessel.search;

import org.tessel.search.domain.Choice;
import org.tessel.search.domain.FusedChoice;
import org.tessel.search.domain.Use;

/**
 * A lower bound on the predicted latency of any feasible plan: every node at its cheapest
 * standalone choice, credited optimistically for fusion (the smaller of its cheapest choice alone and its
 * equal share of the cheapest fused tactic of any candidate holding it), internal edges free,
 * and each graph-boundary conversion at its cheapest over the endpoint's choices (in-group ones
 * included: a fused member may take them). Each term is a
 * minimum of a part of every plan's score, so the sum cannot exceed any plan's latency.
 */
public final class LowerBound {
    private LowerBound() {}

    /** The bound in picoseconds. */
    public static long ps(SearchProblem p) {
        double sum = 0;
        for (SearchProblem.Node n : p.nodes()) {
            double best = Double.MAX_VALUE;
            for (Choice c : n.searchChoices()) if (c.standalone()) best = Math.min(best, c.latencyPs());
            for (SearchProblem.Candidate c : p.candidatesOf(n.index())) {
                long fusedMin = Long.MAX_VALUE;
                for (FusedChoice fc : c.fused().values()) fusedMin = Math.min(fusedMin, fc.latencyPs());
                best = Math.min(best, fusedMin / (double) c.members().length);
            }
            sum += best;
        }
        long bound = (long) Math.floor(sum);
        for (Use u : p.uses()) {
            if (u.internal()) continue;
            int node = u.fromGraphInput() ? u.consumer() : u.producer();
            long min = Long.MAX_VALUE;
            for (Choice c : p.node(node).searchChoices())
                min = Math.min(min, u.fromGraphInput() ? u.conversionPs(u.fixedSource(), c.format()) : u.conversionPs(c.format(), u.fixedTarget()));
            bound += min;
        }
        return bound;
    }

    public static double us(SearchProblem p) { return ps(p) / 1e6; }
}

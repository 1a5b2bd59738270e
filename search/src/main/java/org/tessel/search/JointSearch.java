package org.tessel.search;

import org.tessel.search.baselines.ExactSearch;
import org.tessel.search.solver.TimefoldSearch;

/**
 * The default joint search: the exact solver where the graph is narrow enough for its dynamic
 * program (then the plan is proven optimal), Timefold's local search otherwise. The result's note
 * says which one answered and why.
 */
public final class JointSearch implements SearchStrategy {
    @Override public String name() { return "joint"; }

    @Override public String summary() { return "exact when the graph fits its dynamic program, Timefold otherwise"; }

    @Override public Result solve(SearchProblem p, SearchOptions o) {
        try {
            Result r = new ExactSearch().solve(p, o);
            return new Result(r.assignment(), r.evaluatedMoves(), r.provenOptimal(), r.stoppedByTime(), join("joint: exact", r.note()));
        } catch (IllegalArgumentException tooWide) {
            Result r = new TimefoldSearch().solve(p, o);
            return new Result(r.assignment(), r.evaluatedMoves(), r.provenOptimal(), r.stoppedByTime(),
                    join("joint: timefold (" + tooWide.getMessage().replaceFirst("; use --strategy timefold$", "") + ")", r.note()), r.convergence());
        }
    }

    private static String join(String a, String b) { return b == null || b.isEmpty() ? a : a + "; " + b; }
}

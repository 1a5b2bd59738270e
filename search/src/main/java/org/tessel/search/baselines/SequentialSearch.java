package org.tessel.search.baselines;

import java.util.HashMap;
import java.util.Map;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.search.Format;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.SearchStrategy;
import org.tessel.search.accuracy.AccuracyRepair;
import org.tessel.search.domain.Choice;

/**
 * Phase by phase, as a classic compiler does: fuse what the fuse pass would; pick each unit's
 * layout as if everything ran in FP32; then, layouts fixed, pick each unit's precision; the
 * tactic is then the fastest at that layout and precision. Each phase is greedy in schedule order.
 */
public final class SequentialSearch implements SearchStrategy {
    @Override public String name() { return "sequential"; }

    @Override public String summary() { return "layout first (at fp32), then precision, then tactic, each phase greedy"; }

    @Override public Result solve(SearchProblem p, SearchOptions o) {
        Units u = new Units(p, Units.byPriority(p));
        long[] evaluated = {0};
        // phase 1: layouts, judged at fp32 where a unit has an fp32 choice
        Choice[] layoutPhase = GreedySearch.decide(p, u, (i, f) -> f.precision() == Precision.FP32 || !hasFp32(u, i), evaluated);
        Map<Integer, Layout> layout = new HashMap<>();
        for (int i = 0; i < p.size(); i++) layout.put(i, layoutPhase[i].layout());
        // phase 2: precisions at the fixed layouts; phase 3 (tactic) is the fastest at the pair
        Choice[] decided = GreedySearch.decide(p, u, (i, f) -> f.layout() == layout.get(i) || f.layout() == Layout.ANY, evaluated);
        // under an accuracy budget, the units whose reduced precision costs least latency per error stay reduced
        AccuracyRepair.Repaired r = AccuracyRepair.repair(p, u.assignment(decided), name());
        return new Result(r.assignment(), evaluated[0], false, false, r.note());
    }

    private static boolean hasFp32(Units u, int node) {
        for (Format f : u.formats(node)) if (f.precision() == Precision.FP32) return true;
        return false;
    }
}

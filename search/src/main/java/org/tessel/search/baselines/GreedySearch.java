package org.tessel.search.baselines;

import java.util.List;
import org.tessel.search.Format;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.SearchStrategy;
import org.tessel.search.accuracy.AccuracyRepair;
import org.tessel.search.domain.Choice;

/**
 * TensorRT-style greedy: fuse what the fuse pass would, then layer by layer in schedule order
 * take the fastest tactic given the formats its inputs already arrive in (conversions from
 * upstream and to graph outputs included, downstream ignored).
 */
public final class GreedySearch implements SearchStrategy {
    @Override public String name() { return "greedy"; }

    @Override public String summary() { return "TensorRT-style: pattern fusion, then per layer the fastest tactic given the incoming format"; }

    @Override public Result solve(SearchProblem p, SearchOptions o) {
        Units u = new Units(p, Units.byPriority(p));
        long[] evaluated = {0};
        Choice[] decided = decide(p, u, null, evaluated);
        // under an accuracy budget, the units whose reduced precision costs least latency per error stay reduced
        AccuracyRepair.Repaired r = AccuracyRepair.repair(p, u.assignment(decided), name());
        return new Result(r.assignment(), evaluated[0], false, false, r.note());
    }

    /**
     * Decides every unit in schedule order, each at the format of least cost among those
     * {@code allowed} permits (null: all); a group that can take no format is unfused.
     */
    static Choice[] decide(SearchProblem p, Units u, java.util.function.BiPredicate<Integer, Format> allowed, long[] evaluated) {
        Choice[] decided = new Choice[p.size()];
        for (int i = 0; i < p.size(); i++) {
            if (decided[i] != null || !u.isRootOrAlone(i)) continue;
            Format best = bestFormat(u, i, allowed, decided, evaluated);
            if (best == null && u.group(i) >= 0) {
                u.unfuse(u.group(i));
                best = bestFormat(u, i, allowed, decided, evaluated);
            }
            if (best == null) best = bestFormat(u, i, null, decided, evaluated);
            u.assign(i, best, decided);
        }
        return decided;
    }

    private static Format bestFormat(Units u, int i, java.util.function.BiPredicate<Integer, Format> allowed, Choice[] decided, long[] evaluated) {
        Format best = null;
        long bestCost = Long.MAX_VALUE;
        List<Format> fs = u.formats(i);
        for (Format f : fs) {
            if (allowed != null && !allowed.test(i, f)) continue;
            long c = u.cost(i, f, decided);
            evaluated[0]++;
            if (c < bestCost) { bestCost = c; best = f; }
        }
        return best;
    }
}

package org.tessel.search.baselines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.timefold.solver.core.api.score.buildin.hardsoftlong.HardSoftLongScore;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.tessel.search.Assignment;
import org.tessel.search.LowerBound;
import org.tessel.search.PlanEvaluator;
import org.tessel.search.Problems;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.search.SmallGraphs;
import org.tessel.search.domain.Choice;

/** The DP against brute force on graphs small enough to enumerate, and the bound against both. */
class ExactSearchTest {
    /** Every plan in the search space, the best feasible one's score. */
    static HardSoftLongScore bruteForce(SearchProblem p) {
        PlanEvaluator ev = new PlanEvaluator(p);
        int n = p.size(), c = p.candidates().size();
        int[] idx = new int[n];
        HardSoftLongScore best = null;
        while (true) {
            Choice[] cs = new Choice[n];
            for (int i = 0; i < n; i++) cs[i] = p.node(i).searchChoices().get(idx[i]);
            for (int mask = 0; mask < (1 << c); mask++) {
                boolean[] f = new boolean[c];
                for (int k = 0; k < c; k++) f[k] = (mask >> k & 1) == 1;
                HardSoftLongScore s = ev.score(new Assignment(cs, f));
                if (s.hardScore() == 0 && (best == null || s.compareTo(best) > 0)) best = s;
            }
            int i = 0;
            while (i < n && ++idx[i] == p.node(i).searchChoices().size()) idx[i++] = 0;
            if (i == n) return best;
        }
    }

    @Test void dynamicProgrammingMatchesBruteForce() {
        int compared = 0;
        for (long seed = 0; seed < 200 && compared < 12; seed++) {
            SearchProblem p = Problems.small(seed);
            if (p.searchSpaceSize() > 300_000) continue;
            HardSoftLongScore brute = bruteForce(p);
            var plan = Searcher.run(p, "exact", SearchOptions.defaults());
            assertEquals(brute, plan.evaluation().score(), "seed " + seed + " " + p);
            assertTrue(plan.provenOptimal());
            compared++;
        }
        assertTrue(compared >= 10, "only " + compared + " graphs were small enough to enumerate");
    }

    @Test void boundNeverExceedsTheOptimum() {
        for (long seed = 0; seed < 40; seed++) {
            SearchProblem p = Problems.small(seed);
            long opt = -Searcher.run(p, "exact", SearchOptions.defaults()).evaluation().score().softScore();
            assertTrue(LowerBound.ps(p) <= opt, "seed " + seed + ": bound " + LowerBound.ps(p) + " > optimum " + opt);
        }
        for (String m : Problems.TINY) {
            SearchProblem p = Problems.zoo(m);
            assertTrue(LowerBound.ps(p) <= -Searcher.run(p, "exact", SearchOptions.defaults()).evaluation().score().softScore(), m);
        }
    }

    @Test void aBindingMemoryBudgetIsRefusedWithTheNeed() {
        SearchProblem free = Problems.small(3);
        SearchOptions tight = SearchOptions.defaults().withMemoryBudget(OptionalLong.of(1024));
        SearchProblem p = Searcher.problem(Searcher.prepare(SmallGraphs.build(3)), tight);
        var e = assertThrows(IllegalArgumentException.class, () -> Searcher.run(p, "exact", tight));
        assertTrue(e.getMessage().contains("over the memory budget of 1024"), e.getMessage());
        assertTrue(free.memoryBudget().isEmpty());
    }
}

package org.tessel.search.solver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.search.Plan;
import org.tessel.search.Problems;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;

/** The joint search: no score corruption (FULL_ASSERT), deterministic under a seed, near the exact optimum. */
class TimefoldSearchTest {
    @Test void fullAssertFindsNoScoreCorruption() {
        SearchOptions o = SearchOptions.defaults().withFullAssert(true).withSteps(50, 1500);
        for (SearchProblem p : List.of(Problems.small(1), Problems.small(2), Problems.zoo("bert-tiny"))) {
            Plan plan = Searcher.run(p, "timefold", o);
            assertTrue(plan.feasible(), p.name());
        }
        // from scratch: both construction phases, then local search, all asserted
        var s = TimefoldSearch.solveFromScratch(Problems.zoo("resnet50-tiny"), o);
        assertEquals(0, s.getScore().hardScore());
    }

    @Test void sameSeedSamePlan() {
        SearchProblem p = Problems.zoo("bert-tiny");
        SearchOptions o = SearchOptions.defaults().withSeed(5).withSteps(100, 8000);
        Plan a = Searcher.run(p, "timefold", o), b = Searcher.run(p, "timefold", o);
        assertEquals(a.assignment(), b.assignment());
        assertEquals(a.evaluatedMoves(), b.evaluatedMoves());
    }

    @Test void withinOnePercentOfTheExactOptimumOnTwentyRandomGraphs() {
        SearchOptions o = SearchOptions.defaults().withSteps(100, 10_000);
        List<String> misses = new ArrayList<>();
        int n = 0;
        for (long seed = 100; n < 20; seed++) {
            SearchProblem p = Problems.small(seed);
            double exact = Searcher.run(p, "exact", o).predictedUs();
            double tf = Searcher.run(p, "timefold", o).predictedUs();
            if (tf > exact * 1.01) misses.add(p.name() + ": " + tf + " vs " + exact);
            n++;
        }
        assertTrue(misses.isEmpty(), misses.toString());
    }

    @Test void withinOnePercentOfTheExactOptimumOnTheTinyZooModels() {
        for (String m : Problems.TINY) {
            SearchProblem p = Problems.zoo(m);
            double exact = Searcher.run(p, "exact", SearchOptions.defaults()).predictedUs();
            Plan tf = Searcher.run(p, "timefold", SearchOptions.defaults());
            assertTrue(tf.predictedUs() <= exact * 1.01, m + ": " + tf.predictedUs() + " vs exact " + exact);
            assertTrue(tf.predictedUs() <= Searcher.run(p, "greedy", SearchOptions.defaults()).predictedUs(), m + ": worse than its greedy start");
        }
    }
}

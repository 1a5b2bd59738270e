package org.tessel.search.baselines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessel.search.Plan;
import org.tessel.search.Problems;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.search.Strategies;

/** Every baseline gives a feasible plan no better than the optimum; random search is fixed by its seed. */
class BaselinesTest {
    @Test void baselinesAreFeasibleAndNotBetterThanExact() {
        for (String m : Problems.TINY) {
            SearchProblem p = Problems.zoo(m);
            double exact = Searcher.run(p, "exact", SearchOptions.defaults()).predictedUs();
            for (String s : new String[] {"greedy", "sequential", "random"}) {
                Plan plan = Searcher.run(p, s, SearchOptions.defaults().withRandomSamples(200));
                assertTrue(plan.feasible(), m + " " + s + ": " + plan.note());
                assertTrue(plan.predictedUs() >= exact - 1e-9, m + " " + s + " beat the exact optimum");
                assertTrue(plan.boundUs() <= plan.predictedUs(), m + " " + s);
            }
        }
    }

    @Test void greedyFusesWhatTheFusePassWould() {
        SearchProblem p = Problems.zoo("resnet50-tiny");
        boolean[] f = Units.byPriority(p);
        for (int a = 0; a < f.length; a++)
            for (int b = a + 1; b < f.length; b++)
                assertTrue(!(f[a] && f[b]) || !p.candidates().get(a).overlaps(p.candidates().get(b)), "overlap");
        assertTrue(Searcher.run(p, "greedy", SearchOptions.defaults()).fusedGroups() > 0);
    }

    @Test void randomSearchIsFixedByItsSeed() {
        SearchProblem p = Problems.zoo("mobilenetv2-tiny");
        SearchOptions o = SearchOptions.defaults().withRandomSamples(100).withSeed(9);
        assertEquals(Searcher.run(p, "random", o).assignment(), Searcher.run(p, "random", o).assignment());
    }

    @Test void unknownStrategyIsRefusedWithASuggestion() {
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Strategies.byName("gredy"));
        assertTrue(e.getMessage().contains("did you mean 'greedy'"), e.getMessage());
    }
}

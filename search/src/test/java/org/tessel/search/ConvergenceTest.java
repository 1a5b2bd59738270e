package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;

/** Timefold's convergence history: improvements in time order, each better than the last, ending at the plan it returns. */
class ConvergenceTest {
    @Test void timefoldReportsItsImprovementsEndingAtItsPlan() {
        SearchOptions o = SearchOptions.defaults().withTarget("h100").withSteps(200, 20_000);
        SearchProblem p = Searcher.problem(Searcher.prepare(Zoo.build("bert-tiny", ZooOptions.defaults())), o);
        Plan plan = Searcher.run(p, "timefold", o);
        List<double[]> c = plan.convergence();
        assertFalse(c.isEmpty(), "Timefold found at least its first feasible plan");
        for (int i = 1; i < c.size(); i++) {
            assertTrue(c.get(i)[0] >= c.get(i - 1)[0], "time order at " + i);
            assertTrue(c.get(i)[1] < c.get(i - 1)[1], "each improvement is better, at " + i);
        }
        assertEquals(plan.predictedMs(), c.getLast()[1], 1e-9, "the last improvement is the plan returned");
        assertTrue(Searcher.run(p, "greedy", o).convergence().isEmpty(), "greedy finds its plan at once");
    }
}

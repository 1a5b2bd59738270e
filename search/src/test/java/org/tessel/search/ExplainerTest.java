package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Explanations: one per node; at the exact optimum no single node's runner-up is cheaper. */
class ExplainerTest {
    @Test void atTheOptimumEveryRunnerUpCostsAtLeastAsMuch() {
        for (String m : new String[] {"resnet50-tiny", "bert-tiny"}) {
            SearchProblem p = Problems.zoo(m);
            Assignment a = Searcher.run(p, "exact", SearchOptions.defaults()).assignment();
            List<Explainer.NodeExplanation> ex = new Explainer(p).explain(a);
            assertEquals(p.size(), ex.size());
            for (Explainer.NodeExplanation e : ex) {
                assertTrue(e.deltaPs() >= 0, m + ": " + e.render());
                if (e.runnerUp() != null && !e.chosen().contains("group of"))
                    assertEquals(e.deltaPs(), e.terms().entrySet().stream().filter(t -> !List.of("compute", "memory", "launch").contains(t.getKey())).mapToLong(t -> t.getValue()).sum(), e.render());
            }
        }
    }

    @Test void renderNamesChosenAndRunnerUp() {
        SearchProblem p = Problems.zoo("resnet50-tiny");
        Assignment a = Searcher.run(p, "greedy", SearchOptions.defaults()).assignment();
        String all = String.join("\n", new Explainer(p).explain(a).stream().map(Explainer.NodeExplanation::render).toList());
        assertTrue(all.contains("runner-up"), all);
        assertTrue(all.contains("fused into") || all.contains("group of"), all);
    }
}

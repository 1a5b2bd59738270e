package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.domain.Choice;

/** Problems from graphs: choices, candidates, uses, pins and the errors a user can cause. */
class ProblemBuilderTest {
    private static Graph resnetTiny() { return Searcher.prepare(Zoo.build("resnet50-tiny", ZooOptions.defaults())); }

    @Test void everyNodeHasSupportedChoicesAndCandidatesArePriced() {
        SearchProblem p = Problems.zoo("resnet50-tiny");
        for (SearchProblem.Node n : p.nodes()) {
            assertFalse(n.searchChoices().isEmpty(), n.name());
            assertTrue(n.searchChoices().stream().allMatch(Choice::supported), n.name());
        }
        assertTrue(p.candidates().stream().anyMatch(c -> c.kind().equals("conv_bias_act")));
        assertTrue(p.candidates().stream().allMatch(c -> !c.fused().isEmpty()));
        // preparation folds batch norm: no BatchNormalization left to decide
        assertTrue(p.nodes().stream().noneMatch(n -> n.op().equals("BatchNormalization")));
    }

    @Test void precisionRulesNarrowTheValueRanges() {
        SearchOptions o = SearchOptions.defaults().withPrecisionRules(List.of(PrecisionRule.parse("Conv=fp32")));
        SearchProblem p = Searcher.problem(resnetTiny(), o);
        for (SearchProblem.Node n : p.nodes())
            if (n.op().equals("Conv")) assertTrue(n.searchChoices().stream().allMatch(c -> c.precision() == Precision.FP32), n.name());
        assertTrue(p.pins().size() > 0);
        Plan plan = Searcher.run(p, "timefold", o);
        assertTrue(plan.feasible());
    }

    @Test void aRuleMatchingNothingNamesTheOpsThereAre() {
        SearchOptions o = SearchOptions.defaults().withPrecisionRules(List.of(PrecisionRule.parse("Softmx=fp32")));
        var e = assertThrows(IllegalArgumentException.class, () -> Searcher.problem(resnetTiny(), o));
        assertTrue(e.getMessage().contains("no node or op in graph 'resnet50-tiny' matches 'Softmx'") && e.getMessage().contains("Conv"), e.getMessage());
    }

    @Test void badRuleTextIsRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> PrecisionRule.parse("Conv=fp64"));
        assertTrue(e.getMessage().contains("unknown precision 'fp64'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PrecisionRule.parse("Conv"));
    }

    @Test void aRuleLeavingNoSupportedChoiceIsRefused() {
        // the softmax at the head: no tactic runs it in INT8
        SearchOptions o = SearchOptions.defaults().withPrecisionRules(List.of(PrecisionRule.parse("Softmax=int8")));
        var e = assertThrows(IllegalArgumentException.class, () -> Searcher.problem(resnetTiny(), o));
        assertTrue(e.getMessage().contains("leave no supported choice"), e.getMessage());
    }

    @Test void usesCoverEveryEdgeAndBoundary() {
        Graph g = resnetTiny();
        SearchProblem p = Searcher.problem(g, SearchOptions.defaults());
        long inputs = p.uses().stream().filter(u -> u.fromGraphInput()).count();
        long outputs = p.uses().stream().filter(u -> u.toGraphOutput()).count();
        assertTrue(inputs >= 1);
        assertEquals(g.outputs().size(), outputs);
    }
}

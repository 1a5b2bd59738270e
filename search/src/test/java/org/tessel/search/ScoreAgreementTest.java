package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.timefold.solver.core.api.score.buildin.hardsoftlong.HardSoftLongScore;
import ai.timefold.solver.core.api.solver.SolutionManager;
import ai.timefold.solver.core.api.solver.SolverFactory;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.EnginePlan;
import org.tessel.search.solver.TimefoldSearch;

/**
 * The constraint streams and the plain evaluator are two implementations of one score: on
 * random plans (feasible and not) of random graphs and the tiny zoo models they must agree
 * exactly, rule by rule.
 */
class ScoreAgreementTest {
    private final SolutionManager<EnginePlan, HardSoftLongScore> sm =
            SolutionManager.create(SolverFactory.create(TimefoldSearch.config(SearchOptions.defaults())));

    /** Any choice from the node's value range, any fuse flags: overlaps and disagreeing members included. */
    static Assignment wild(SearchProblem p, SplittableRandom r) {
        Choice[] cs = new Choice[p.size()];
        for (int i = 0; i < p.size(); i++) {
            List<Choice> vr = p.node(i).searchChoices();
            cs[i] = vr.get(r.nextInt(vr.size()));
        }
        boolean[] f = new boolean[p.candidates().size()];
        for (int k = 0; k < f.length; k++) f[k] = r.nextBoolean();
        return new Assignment(cs, f);
    }

    private void agree(SearchProblem p, Assignment a) {
        EnginePlan s = p.solution(a);
        var explanation = sm.explain(s);
        PlanEvaluator.Evaluation e = new PlanEvaluator(p).evaluate(a);
        assertEquals(e.score(), explanation.getScore(), p.name() + ": " + a);
        Map<String, Long> byRule = e.byRule();
        for (var total : explanation.getConstraintMatchTotalMap().values()) {
            String rule = total.getConstraintRef().constraintName();
            HardSoftLongScore sc = total.getScore();
            long amount = Rules.HARD.contains(rule) ? -sc.hardScore() : -sc.softScore();
            assertEquals(byRule.get(rule), amount, p.name() + " rule " + rule);
        }
    }

    @Test void randomGraphsRandomPlans() {
        SplittableRandom r = new SplittableRandom(7);
        for (long seed = 0; seed < 25; seed++) {
            SearchProblem p = Problems.small(seed);
            for (int k = 0; k < 8; k++) agree(p, wild(p, r));
        }
    }

    @Test void tinyZooModelsRandomAndBaselinePlans() {
        SplittableRandom r = new SplittableRandom(11);
        for (String m : Problems.TINY) {
            SearchProblem p = Problems.zoo(m);
            for (int k = 0; k < 4; k++) agree(p, wild(p, r));
            agree(p, Searcher.run(p, "greedy", SearchOptions.defaults()).assignment());
            agree(p, Searcher.run(p, "exact", SearchOptions.defaults()).assignment());
        }
    }

    @Test void justificationsChargeEverySoftPicosecondToANode() {
        SearchProblem p = Problems.zoo("resnet50-tiny");
        Assignment a = Searcher.run(p, "exact", SearchOptions.defaults()).assignment();
        Map<String, List<String>> byNode = new Explainer(p).justifications(a);
        long sum = 0;
        for (List<String> terms : byNode.values())
            for (String t : terms) sum += Long.parseLong(t.substring(t.lastIndexOf("= ") + 2));
        assertEquals(-new PlanEvaluator(p).score(a).softScore(), sum);
        assertTrue(byNode.keySet().stream().allMatch(n -> p.nodes().stream().anyMatch(x -> x.name().equals(n))), "terms are charged to real nodes");
    }
}

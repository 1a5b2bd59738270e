package org.tessel.search.accuracy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.timefold.solver.core.api.score.buildin.hardsoftlong.HardSoftLongScore;
import ai.timefold.solver.core.api.solver.SolutionManager;
import ai.timefold.solver.core.api.solver.SolverFactory;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.cost.Precision;
import org.tessel.search.Assignment;
import org.tessel.search.Plan;
import org.tessel.search.PlanEvaluator;
import org.tessel.search.PrecisionRule;
import org.tessel.search.Rules;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.EnginePlan;
import org.tessel.search.solver.TimefoldSearch;

/**
 * The accuracy budget as a hard constraint: every strategy's plan keeps it on the tiny zoo models, a
 * budget of 0 leaves no node at an erring precision, an unreachable budget is refused with the
 * reason, a loose budget changes nothing, and the constraint streams agree with the evaluator. The
 * error model here is a fixture (each node's error a multiple of the precision's unit roundoff);
 * the measured one is tested where the CPU engine is (experiments' SensitivityTest).
 */
class AccuracyBudgetSearchTest {
    static final List<String> STRATEGIES = List.of("exact", "timefold", "greedy", "sequential", "rule", "random", "joint");

    /** Node i at precision q errs (1 + i % 5) unit roundoffs of q: every reduced precision errs, some nodes more. */
    static ErrorModel fixture(SearchProblem p) {
        Map<String, Map<Precision, ErrorModel.NodeError>> m = new LinkedHashMap<>();
        for (int i = 0; i < p.size(); i++) {
            Map<Precision, ErrorModel.NodeError> byP = new EnumMap<>(Precision.class);
            for (Precision q : List.of(Precision.TF32, Precision.FP16, Precision.BF16)) {
                double e = q.relativeError() * (1 + i % 5);
                byP.put(q, new ErrorModel.NodeError(e, e / 10));
            }
            m.put(p.node(i).name(), byP);
        }
        return new ErrorModel("fixture", m, 1);
    }

    private static final Map<String, SearchProblem> PROBLEMS = new java.util.HashMap<>();

    /**
     * The model priced for h100; BERT-tiny at batch 64 and ResNet-50-tiny at batch 1024, since smaller they are
     * launch-bound and FP32 is already their fastest plan (nothing for a budget to trade; NCHW FP32 convolutions
     * pay none of the transposes cuDNN runs for tensor cores).
     */
    static synchronized SearchProblem problem(String model) {
        return PROBLEMS.computeIfAbsent(model, m -> Searcher.problem(Searcher.prepare(org.tessel.ir.zoo.Zoo.build(m,
                org.tessel.ir.zoo.ZooOptions.defaults().withBatch(m.startsWith("bert") ? 64 : 1024))), SearchOptions.defaults()));
    }

    static SearchOptions options() { return SearchOptions.defaults().withSteps(50, 4000).withRandomSamples(200); }

    /** The allowed error that sits halfway between the unconstrained optimum's predicted error and none. */
    static double halfway(SearchProblem p, ErrorModel model) {
        SearchProblem loose = p.withAccuracy(model, new AccuracyBudget(AccuracyBudget.Metric.REL_L2, 1e9));
        Plan free = Searcher.run(loose, "exact", options());
        double e = loose.accuracy().predictedError(free.assignment());
        assertTrue(e > 0, "the unconstrained plan computes somewhere in reduced precision");
        return e / 2;
    }

    @ParameterizedTest @ValueSource(strings = {"bert-tiny", "resnet50-tiny"})
    void everyStrategyKeepsTheBudget(String model) {
        SearchProblem base = problem(model);
        ErrorModel em = fixture(base);
        double allowed = halfway(base, em);
        SearchProblem p = base.withAccuracy(em, new AccuracyBudget(AccuracyBudget.Metric.REL_L2, allowed));
        Plan free = Searcher.run(base, "exact", options());
        for (String s : STRATEGIES) {
            Plan plan = Searcher.run(p, s, options());
            assertTrue(plan.feasible(), s + " on " + model + ": " + plan.evaluation().byRule() + " " + plan.note());
            assertTrue(p.accuracy().predictedError(plan.assignment()) <= allowed + 1e-12, s + ": " + p.accuracy().describe(plan.assignment()));
            assertTrue(plan.predictedUs() >= free.predictedUs() - 1e-9, s + " cannot beat the unconstrained optimum");
            if (List.of("exact", "greedy", "sequential").contains(s)) {
                // a looser budget never costs latency: the budget-0 plan is a candidate too
                Plan zero = Searcher.run(base.withAccuracy(em, new AccuracyBudget(AccuracyBudget.Metric.REL_L2, 0)), s, options());
                assertTrue(plan.predictedUs() <= zero.predictedUs() + 1e-9, s + " on " + model + ": " + plan.predictedUs() + " us under the budget, " + zero.predictedUs() + " us at budget 0");
            }
        }
        Plan exact = Searcher.run(p, "exact", options());
        assertTrue(exact.note().contains("Lagrangian"), exact.note());
        // the relaxation's plan is no slower than the greedy plan repaired to the same budget
        assertTrue(exact.predictedUs() <= Searcher.run(p, "greedy", options()).predictedUs() + 1e-9, "exact under budget vs greedy under budget");
    }

    @Test void budgetZeroGivesAnFp32Plan() {
        for (String model : List.of("bert-tiny", "resnet50-tiny")) {
            SearchProblem base = problem(model);
            SearchProblem p = base.withAccuracy(fixture(base), new AccuracyBudget(AccuracyBudget.Metric.REL_L2, 0));
            for (String s : STRATEGIES) {
                Plan plan = Searcher.run(p, s, options());
                assertTrue(plan.feasible(), s + ": " + plan.evaluation().byRule());
                for (int i = 0; i < p.size(); i++)
                    assertEquals(Precision.FP32, plan.assignment().choice(i).precision(), s + " on " + model + ": node " + p.node(i).name());
            }
        }
    }

    @Test void looseBudgetChangesNothing() {
        SearchProblem base = problem("bert-tiny");
        SearchProblem p = base.withAccuracy(fixture(base), new AccuracyBudget(AccuracyBudget.Metric.REL_L2, 10));
        Plan free = Searcher.run(base, "exact", options()), loose = Searcher.run(p, "exact", options());
        assertEquals(free.predictedUs(), loose.predictedUs(), 1e-9);
        assertTrue(loose.provenOptimal());
    }

    @Test void unreachableBudgetIsRefusedWithTheNodes() {
        SearchProblem base = Searcher.problem(Searcher.prepare(org.tessel.ir.zoo.Zoo.build("bert-tiny", org.tessel.ir.zoo.ZooOptions.defaults())),
                SearchOptions.defaults().withPrecisionRules(List.of(PrecisionRule.parse("Softmax=fp16"))));
        UnreachableBudgetException e = assertThrows(UnreachableBudgetException.class,
                () -> base.withAccuracy(fixture(base), new AccuracyBudget(AccuracyBudget.Metric.REL_L2, 0)));
        assertTrue(e.getMessage().contains("rel_l2=0") && e.getMessage().contains("softmax"), e.getMessage());
    }

    @Test void modelOfAnotherGraphIsRefused() {
        SearchProblem bert = problem("bert-tiny"), resnet = problem("resnet50-tiny");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> resnet.withAccuracy(fixture(bert), new AccuracyBudget(AccuracyBudget.Metric.REL_L2, 0.01)));
        assertTrue(e.getMessage().contains("no measurement for node"), e.getMessage());
    }

    @Test void top1NeedsAClassifierOutput() {
        SearchProblem p = problem("bert-tiny");
        Map<String, Map<Precision, ErrorModel.NodeError>> m = new LinkedHashMap<>();
        fixture(p).nodes().forEach((n, byP) -> {
            Map<Precision, ErrorModel.NodeError> c = new EnumMap<>(Precision.class);
            byP.forEach((q, e) -> c.put(q, new ErrorModel.NodeError(e.relL2(), Double.NaN)));
            m.put(n, c);
        });
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.withAccuracy(new ErrorModel("no classifier", m, 1), new AccuracyBudget(AccuracyBudget.Metric.TOP1, 0.99)));
        assertTrue(e.getMessage().contains("classifier"), e.getMessage());
    }

    @Test void scalingTheModelTightensThePlan() {
        SearchProblem base = problem("bert-tiny");
        ErrorModel em = fixture(base);
        AccuracyBudget b = new AccuracyBudget(AccuracyBudget.Metric.REL_L2, halfway(base, em));
        SearchProblem p = base.withAccuracy(em, b), tight = base.withAccuracy(em.scaled(3), b);
        Plan a = Searcher.run(p, "exact", options()), t = Searcher.run(tight, "exact", options());
        assertTrue(tight.accuracy().predictedError(t.assignment()) <= b.allowedError() + 1e-12);
        assertTrue(p.accuracy().predictedError(t.assignment()) < p.accuracy().predictedError(a.assignment()), "a model scaled up buys less reduced precision");
        assertTrue(t.predictedUs() >= a.predictedUs());
    }

    @Test void constraintStreamsAgreeWithTheEvaluator() {
        SolutionManager<EnginePlan, HardSoftLongScore> sm = SolutionManager.create(SolverFactory.create(TimefoldSearch.config(SearchOptions.defaults())));
        SplittableRandom r = new SplittableRandom(3);
        for (String model : List.of("bert-tiny", "resnet50-tiny")) {
            SearchProblem base = problem(model);
            SearchProblem p = base.withAccuracy(fixture(base), new AccuracyBudget(AccuracyBudget.Metric.REL_L2, 1e-3));
            boolean sawExcess = false;
            for (int k = 0; k < 6; k++) {
                Choice[] cs = new Choice[p.size()];
                for (int i = 0; i < p.size(); i++) cs[i] = p.node(i).searchChoices().get(r.nextInt(p.node(i).searchChoices().size()));
                boolean[] f = new boolean[p.candidates().size()];
                for (int j = 0; j < f.length; j++) f[j] = r.nextBoolean();
                Assignment a = new Assignment(cs, f);
                PlanEvaluator.Evaluation e = new PlanEvaluator(p).evaluate(a);
                assertEquals(e.score(), sm.explain(p.solution(a)).getScore(), model);
                long excess = e.byRule().get(Rules.ACCURACY_WITHIN_BUDGET);
                assertEquals(p.accuracy().excess(a), excess);
                sawExcess |= excess > 0;
            }
            assertTrue(sawExcess, "random plans break a budget of 1e-3");
        }
    }

    @Test void parseNamesTheFlag() {
        assertEquals(new AccuracyBudget(AccuracyBudget.Metric.REL_L2, 0.01), AccuracyBudget.parse("rel_l2=0.01", "--accuracy-budget"));
        assertEquals(0.005, AccuracyBudget.parse("top1=0.995", "--accuracy-budget").allowedError(), 1e-12);
        for (String bad : List.of("foo", "foo=1", "rel_l2=x", "rel_l2=-0.1", "top1=1.5", "rel_l2=NaN")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AccuracyBudget.parse(bad, "--accuracy-budget"));
            assertTrue(e.getMessage().startsWith("--accuracy-budget '" + bad + "'"), e.getMessage());
        }
        assertFalse(new AccuracyBudget(AccuracyBudget.Metric.TOP1, 0.99).kept(0.02));
    }
}

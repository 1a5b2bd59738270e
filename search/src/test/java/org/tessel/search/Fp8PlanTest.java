package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.zoo.Zoo;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlanCheck;
import org.tessel.tactics.plan.PlanException;
import org.tessel.tactics.plan.PlannedNode;

/**
 * FP8 as the search sees it: on an sm_89+ target the transformer's GEMMs take FP8 where their K and
 * N are multiples of 16; on the A100 (no FP8 tensor cores) no choice is FP8, and a plan that asks FP8
 * there is refused by the plan check before any work, naming the node.
 */
class Fp8PlanTest {
    private static final EnumSet<Precision> WITH_FP8 = EnumSet.of(Precision.FP32, Precision.FP16, Precision.FP8);

    private static SearchOptions options(String target, List<PrecisionRule> rules) {
        return SearchOptions.defaults().withTarget(target).withPrecisions(WITH_FP8).withPrecisionRules(rules);
    }

    @Test void hopperRunsTheTransformerGemmsAtFp8AndTheA100RefusesThePlan() {
        // bert-tiny's GEMMs are launch-bound, where FP8 gains nothing: pin the query projections
        SearchOptions o = options("h100", List.of(PrecisionRule.parse("encoder.layer.*.attention.self.query=fp8")));
        SearchProblem p = Searcher.problem(Searcher.prepare(Zoo.build("bert-tiny")), o);
        Plan plan = Searcher.run(p, "greedy", o);
        PlanApplier.Applied a = EnginePlans.complete(p, plan);
        int fp8 = a.plan().precisionMix().getOrDefault(Precision.FP8, 0);
        assertTrue(fp8 >= 2, "the pinned GEMMs run FP8 on the H100: " + a.plan().precisionMix());
        PlannedNode first = a.plan().nodes().stream().filter(n -> n.precision() == Precision.FP8 && n.tactic().startsWith("cublaslt.gemm")).findFirst()
                .orElseThrow(() -> new AssertionError("no GEMM at FP8: " + a.plan().nodes()));
        // the A100's costing offers that GEMM no FP8 choice, saying why
        org.tessel.ir.Node gemm = a.graph().nodes().stream().filter(n -> n.name().equals(first.node())).findFirst().orElseThrow();
        CatalogCosting a100 = new CatalogCosting(TacticCatalog.global(), new org.tessel.cost.CostModel(DeviceSpec.byName("a100")), false);
        var reasons = a100.choices(gemm, 0, List.of(org.tessel.api.Layout.ANY)).stream().filter(c -> c.precision() == Precision.FP8).map(c -> c.whyNot()).toList();
        assertTrue(reasons.contains("a100-80gb has no fp8 tensor cores"), reasons.toString());
        // with scales for its FP8 tensors (any positive ones: the check is about presence), the H100's plan checks against the H100
        // and is refused for the A100, naming the node, before any device work
        java.util.Map<String, Float> scales = new java.util.HashMap<>();
        for (org.tessel.ir.Node n : p.prepared().nodes()) for (org.tessel.ir.Value v : n.outputs()) scales.put(v.name(), 1f / 448);
        for (org.tessel.ir.Value v : p.prepared().inputs()) scales.put(v.name(), 1f / 448);
        org.tessel.tactics.plan.EnginePlan withScales = a.plan().withQuantization(org.tessel.tactics.plan.QuantizationTable.forPlanned(a.graph(), a.plan(), Precision.FP8, "test", scales));
        PlanCheck.check(withScales, a.graph(), TacticCatalog.global(), DeviceSpec.byName("h100"));
        PlanException e = assertThrows(PlanException.class, () -> PlanCheck.check(withScales, a.graph(), TacticCatalog.global(), DeviceSpec.byName("a100")));
        assertTrue(e.getMessage().contains("precision fp8 is not supported by a100-80gb") && e.getMessage().contains("sm_89"), e.getMessage());
        assertTrue(e.getMessage().startsWith("node '") || e.getMessage().contains("'"), e.getMessage());
    }

    @Test void theA100OffersNoFp8Choice() {
        org.tessel.ir.Graph g = Searcher.prepare(Zoo.build("bert-tiny"));
        for (String target : List.of("a100", "h100")) {
            SearchProblem p = Searcher.problem(g, options(target, List.of()));
            long fp8 = p.nodes().stream().flatMap(n -> n.choices().stream()).filter(c -> c.supported() && c.precision() == Precision.FP8).count();
            assertEquals(target.equals("h100"), fp8 > 0, target + ": " + fp8 + " FP8 choices");
        }
    }
}

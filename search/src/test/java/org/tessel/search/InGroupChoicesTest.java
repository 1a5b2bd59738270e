package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.search.domain.Choice;
import org.tessel.tactics.plan.PlanException;

/**
 * A fusion candidate's members take its formats as in-group choices where no standalone tactic runs
 * them (the MatMul heading a GEMM chain at TF32: tessel.matmul runs a lone MatMul at FP32, FP16 and BF16,
 * only the chain's cuBLASLt matmul at TF32): feasible only inside a fused group, so they let groups run
 * at a precision no lone kernel has without letting a lone node run where nothing can.
 */
class InGroupChoicesTest {
    /** bert-tiny and vit-tiny with INT8 allowed: a weights MatMul runs alone on cuBLASLt at the float precisions, at INT8 only in its chain. */
    static SearchProblem withInt8(String model, List<PrecisionRule> rules) {
        return Searcher.problem(Searcher.prepare(org.tessel.ir.zoo.Zoo.build(model, org.tessel.ir.zoo.ZooOptions.defaults())),
                SearchOptions.defaults().withPrecisions(java.util.EnumSet.of(Precision.FP32, Precision.FP16, Precision.INT8)).withPrecisionRules(rules));
    }

    static SearchOptions int8Options(List<PrecisionRule> rules) {
        return SearchOptions.defaults().withPrecisions(java.util.EnumSet.of(Precision.FP32, Precision.FP16, Precision.INT8)).withPrecisionRules(rules);
    }

    @Test void inGroupChoicesAreCandidateFormatsWhereNoStandaloneTacticRuns() {
        for (String m : List.of("bert-tiny", "vit-tiny")) {
            SearchProblem p = withInt8(m, List.of());
            int inGroup = 0;
            for (SearchProblem.Node n : p.nodes()) {
                Set<Format> standalone = new HashSet<>();
                for (Choice c : n.choices()) if (c.standalone()) standalone.add(c.format());
                for (Choice c : n.choices()) {
                    if (!c.inGroup()) continue;
                    inGroup++;
                    assertFalse(standalone.contains(c.format()), n.name() + " has a standalone choice at " + c.format());
                    assertEquals(Choice.IN_GROUP_TACTIC, c.tacticId());
                    assertEquals(0, c.latencyPs());
                    assertTrue(p.candidatesOf(n.index()).stream().anyMatch(k -> k.fused().keySet().stream().anyMatch(f -> f.agrees(c.format()))),
                            n.name() + ": " + c.format() + " is no format of a candidate holding it");
                }
                if (p.candidatesOf(n.index()).isEmpty()) assertTrue(n.choices().stream().allMatch(Choice::standalone), n.name());
            }
            assertTrue(inGroup > 0, m);
        }
        // the GEMM chains' MatMuls: no standalone kernel at INT8, INT8 in their group (where the chain's epilogue has INT8:
        // bias, residual, ReLU, not the intermediate layer's GELU)
        SearchProblem bert = withInt8("bert-tiny", List.of());
        int chains = 0;
        for (SearchProblem.Node n : bert.nodes())
            if (n.op().equals("MatMul") && bert.candidatesOf(n.index()).stream().anyMatch(c -> c.kind().equals("gemm_bias_act")
                    && c.fused().keySet().stream().anyMatch(f -> f.precision() == Precision.INT8))) {
                chains++;
                assertTrue(n.choices().stream().filter(Choice::standalone).noneMatch(c -> c.precision() == Precision.INT8), n.name());
                assertTrue(n.choices().stream().filter(Choice::standalone).anyMatch(c -> c.precision() == Precision.FP16), n.name() + ": cuBLASLt runs it alone at FP16");
                assertTrue(n.searchChoices().stream().anyMatch(c -> c.inGroup() && c.precision() == Precision.INT8), n.name());
            }
        assertTrue(chains > 0);
    }

    @Test void aLoneNodeAtAnInGroupChoiceIsInfeasibleAndHasNoEnginePlan() {
        SearchProblem p = withInt8("bert-tiny", List.of());
        Plan exact = Searcher.run(p, "exact", int8Options(List.of()));
        int matmul = -1;
        for (SearchProblem.Node n : p.nodes()) if (n.op().equals("MatMul") && p.candidatesOf(n.index()).stream().anyMatch(c -> c.kind().equals("gemm_bias_act"))) { matmul = n.index(); break; }
        Assignment a = exact.assignment();
        for (SearchProblem.Candidate c : p.candidatesOf(matmul)) a = a.withFused(c.index(), false);
        int node = matmul;
        Choice in = p.node(node).searchChoices().stream().filter(c -> c.inGroup() && c.precision() == Precision.INT8).findFirst().orElseThrow();
        a = a.withChoice(node, in);
        PlanEvaluator.Evaluation e = new PlanEvaluator(p).evaluate(a);
        assertEquals(1L, e.byRule().get(Rules.IN_GROUP_CHOICE_FUSED), e.byRule().toString());
        Plan bad = new Plan(p.name(), "test", "h100", 0, p.size(), p.candidates().size(), 0, a, e, e.latencyUs(), 0, 0, 0, 0, false, false, "");
        PlanException x = assertThrows(PlanException.class, () -> EnginePlans.decisions(p, bad));
        assertTrue(x.getMessage().contains("'" + p.node(node).name() + "'") && x.getMessage().contains("fuses no group holding it"), x.getMessage());
    }

    @Test void pinsThatSplitTheOnlyGroupANodeCanRunInAreRefusedNamingTheRules() {
        // the query projection runs at int8 only inside its GEMM chain; pinning the chain's bias Add to fp32 leaves that group no precision
        SearchOptions o = int8Options(List.of(PrecisionRule.parse("encoder.layer.0.attention.self.query=int8"),
                PrecisionRule.parse("encoder.layer.0.attention.self.query.add=fp32")));
        var e = assertThrows(IllegalArgumentException.class,
                () -> Searcher.problem(Searcher.prepare(org.tessel.ir.zoo.Zoo.build("bert-tiny", org.tessel.ir.zoo.ZooOptions.defaults())), o));
        assertTrue(e.getMessage().startsWith("node 'encoder.layer.0.attention.self.query' (MatMul): the precision rules leave it no plan")
                && e.getMessage().contains("gemm_bias_act group of [") && e.getMessage().contains("query.add by 'encoder.layer.0.attention.self.query.add=fp32'"), e.getMessage());
        // the same pins on one precision are a plan
        SearchOptions same = int8Options(List.of(PrecisionRule.parse("encoder.layer.0.attention.self.query=int8"),
                PrecisionRule.parse("encoder.layer.0.attention.self.query.add=int8")));
        SearchProblem p = Searcher.problem(Searcher.prepare(org.tessel.ir.zoo.Zoo.build("bert-tiny", org.tessel.ir.zoo.ZooOptions.defaults())), same);
        assertTrue(Searcher.run(p, "exact", same).feasible());
    }

    @Test void aPinOnlyAGroupCanHonourIsAcceptedAndAPinNothingCanIsRefused() {
        SearchOptions o = int8Options(List.of(PrecisionRule.parse("encoder.layer.0.attention.self.query=int8")));
        SearchProblem p = Searcher.problem(Searcher.prepare(org.tessel.ir.zoo.Zoo.build("bert-tiny", org.tessel.ir.zoo.ZooOptions.defaults())), o);
        for (SearchProblem.Node n : p.nodes())
            if (n.name().equals("encoder.layer.0.attention.self.query"))
                assertTrue(n.searchChoices().stream().allMatch(c -> c.inGroup() && c.precision() == Precision.INT8), n.name() + ": " + n.searchChoices());
        assertTrue(Searcher.run(p, "exact", o).feasible());
        // LayerNormalization heads no candidate and no kernel runs it in INT8
        SearchOptions none = SearchOptions.defaults().withPrecisionRules(List.of(PrecisionRule.parse("LayerNormalization=int8")));
        var e = assertThrows(IllegalArgumentException.class, () -> Searcher.problem(Searcher.prepare(org.tessel.ir.zoo.Zoo.build("bert-tiny", org.tessel.ir.zoo.ZooOptions.defaults())), none));
        assertTrue(e.getMessage().contains("leave no supported choice"), e.getMessage());
    }

    /**
     * BERT-base: its MatMuls (GEMM chains, attention) are fastest inside their groups' cuBLASLt and attention kernels; with their groups'
     * formats as in-group choices the optimum runs every one of them in a fused group (or a horizontal merge) at
     * a reduced precision, and lands near the lower bound (it was 2.8x the bound when a member's missing FP16
     * tactic kept the groups at FP32).
     */
    @Test void bertBaseRunsItsGemmGroupsAtReducedPrecision() {
        SearchProblem p = Problems.zoo("bert-base");
        Plan exact = Searcher.run(p, "exact", SearchOptions.defaults());
        assertTrue(exact.feasible());
        int matmuls = 0;
        for (SearchProblem.Node n : p.nodes()) {
            if (!n.op().equals("MatMul")) continue;
            matmuls++;
            assertTrue(p.candidatesOf(n.index()).stream().anyMatch(c -> exact.assignment().isFused(c.index())), n.name() + " runs in no fused group");
            assertTrue(exact.assignment().format(n.index()).precision() != Precision.FP32, n.name());
        }
        assertTrue(matmuls >= 12 * 8, "MatMuls: " + matmuls);
        assertTrue(exact.predictedUs() < 1.25 * exact.boundUs(), exact.predictedUs() + " us against a bound of " + exact.boundUs());
        // the baselines run the groups at reduced precision too, but merge no siblings: since Q/K/V merge into one batched
        // GEMM whose Split is views, the joint optimum is that much (about 1.2x at b1) ahead of them
        for (String s : List.of("greedy", "sequential", "rule")) {
            Plan plan = Searcher.run(p, s, SearchOptions.defaults());
            assertTrue(plan.feasible() && plan.predictedUs() < 1.5 * plan.boundUs(), s + ": " + plan.predictedUs() + " us, bound " + plan.boundUs());
            assertTrue(exact.predictedUs() < plan.predictedUs(), s + " " + plan.predictedUs() + " us against the joint optimum's " + exact.predictedUs());
        }
    }
}

package org.tessel.examples.fastrelu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.text.IrParser;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.search.CatalogCosting;
import org.tessel.search.EnginePlans;
import org.tessel.search.ForcedChoice;
import org.tessel.search.Plan;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.search.domain.Choice;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.EnginePlan;

/**
 * The plugin's Relu competes on price: standalone and in 16 bits it is cheaper than tessel.eltwise and
 * the joint search takes it; after a convolution, fusing the Relu into cuDNN's epilogue is cheaper
 * than the convolution plus the plugin's kernel, so the search fuses and the plugin loses (forcing
 * it anyway costs predicted time); on 75 elements it cannot run and is never chosen.
 */
class FastReluPricingTest {
    static final SearchOptions FP16 = SearchOptions.defaults().withTarget("h100").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16));

    static Graph prepared(String tir) { return Searcher.prepare(IrParser.parse(tir, "model.tir")); }

    static int index(SearchProblem p, String name) {
        for (SearchProblem.Node n : p.nodes()) if (n.name().equals(name)) return n.index();
        throw new AssertionError(name);
    }

    @Test void theCatalogueHasIt() {
        assertEquals("example-fast-relu", TacticCatalog.classPath().providerOf(FastReluTactics.ID));
    }

    @Test void standaloneAtFp16ItIsCheaperAndChosen() {
        SearchOptions o = FP16.withPrecisionRules(List.of(PrecisionRule.parse("Relu=fp16")));
        Graph g = prepared(Models.POOL_RELU);
        SearchProblem p = Searcher.problem(g, o);
        // every priced choice of the relu (the problem keeps only the fastest per format)
        org.tessel.ir.Node node = g.nodes().stream().filter(n -> n.name().equals("relu")).findFirst().orElseThrow();
        List<Choice> relu = new CatalogCosting(TacticCatalog.global(), new CostModel(DeviceSpec.byName("h100")), false)
                .choices(node, 0, List.of(org.tessel.api.Layout.NCHW, org.tessel.api.Layout.NHWC));
        Choice mine = relu.stream().filter(c -> c.tacticId().equals(FastReluTactics.ID) && c.precision() == Precision.FP16).findFirst().orElseThrow();
        Choice builtin = relu.stream().filter(c -> c.tacticId().equals("tessel.eltwise") && c.precision() == Precision.FP16 && c.layout() == mine.layout())
                .findFirst().orElseThrow();
        assertTrue(mine.supported() && builtin.supported() && mine.latencyPs() < builtin.latencyPs(), mine + " vs " + builtin);
        assertTrue(p.node(index(p, "relu")).searchChoices().stream().allMatch(c -> c.tacticId().equals(FastReluTactics.ID)), "at fp16 only the cheaper one is searched");
        for (String s : List.of("joint", "greedy", "exact")) {
            EnginePlan plan = EnginePlans.complete(p, Searcher.run(p, s, o)).plan();
            assertEquals(FastReluTactics.ID, plan.node("relu").tacticId(), s + "\n" + plan.render());
        }
    }

    @Test void afterAConvolutionFusionIsCheaperAndThePluginLoses() {
        Graph g = prepared(Models.CONV_RELU);
        SearchProblem p = Searcher.problem(g, FP16);
        Plan free = Searcher.run(p, "joint", FP16);
        EnginePlan plan = EnginePlans.complete(p, free).plan();
        assertEquals(1, plan.groups().size(), plan.render());
        assertTrue(plan.nodes().stream().noneMatch(n -> n.tacticId().equals(FastReluTactics.ID)), plan.render());
        SearchOptions forced = FP16.withForced(List.of(ForcedChoice.parse("relu=" + FastReluTactics.ID)));
        SearchProblem q = Searcher.problem(g, forced);
        Plan withPlugin = Searcher.run(q, "joint", forced);
        assertEquals(FastReluTactics.ID, EnginePlans.complete(q, withPlugin).plan().node("relu").tacticId());
        assertTrue(withPlugin.predictedUs() > free.predictedUs(), "fused " + free.predictedUs() + " us vs conv + plugin relu " + withPlugin.predictedUs() + " us");
    }

    @Test void whereItCannotRunItIsNotACandidate() {
        SearchProblem p = Searcher.problem(prepared(Models.ODD_RELU), FP16.withPrecisionRules(List.of(PrecisionRule.parse("Relu=fp16"))));
        assertFalse(p.node(index(p, "relu")).choices().stream().anyMatch(c -> c.tacticId().equals(FastReluTactics.ID)));
        var why = TacticCatalog.classPath().byId(FastReluTactics.ID).whyNot(prepared(Models.ODD_RELU).nodes().stream()
                .filter(n -> n.name().equals("relu")).findFirst().orElseThrow(), Precision.FP16, org.tessel.api.Layout.NCHW);
        assertTrue(why.contains("multiple of 8 (got 75)"), why);
    }
}

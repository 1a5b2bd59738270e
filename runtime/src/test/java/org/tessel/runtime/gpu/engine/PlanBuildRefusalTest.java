package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * A plan the GPU builder cannot build is refused before any GPU work, naming the node: no CUDA context is
 * passed here, so reaching the device would fail differently.
 */
class PlanBuildRefusalTest {
    private static PlanApplier.Applied rulePlan(String model, Precision p) {
        Graph g = Zoo.build(model, ZooOptions.defaults());
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, p));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        return EnginePlans.complete(problem, Searcher.run(problem, "rule", o));
    }

    private static EnginePlan with(EnginePlan plan, int index, java.util.function.UnaryOperator<PlannedNode> change) {
        List<PlannedNode> ns = new ArrayList<>(plan.nodes());
        ns.set(index, change.apply(ns.get(index)));
        return plan.withNodes(ns);
    }

    private static int firstConv(EnginePlan plan) {
        for (int i = 0; i < plan.nodes().size(); i++) if (plan.nodes().get(i).tacticId().startsWith("cudnn.conv")) return i;
        throw new AssertionError("no convolution in the plan");
    }

    @Test void aNodeAtAnotherPrecisionIsBuiltWithCastsAndAnInt8NodeWithoutAnInt8KernelIsNamed() {
        PlanApplier.Applied a = rulePlan("resnet50-tiny", Precision.FP16);
        int i = firstConv(a.plan());
        EnginePlan mixed = with(a.plan(), i, n -> new PlannedNode(n.node(), n.op(), n.tacticId(), n.variant(), Precision.FP32, n.layout(), n.stream(), n.predictedUs()));
        GpuEngine.checkPlan(a.graph(), mixed, GpuEngine.Precision.FP16); // per-node precision: accepted
        int pool = -1;
        for (int k = 0; k < a.plan().nodes().size() && pool < 0; k++) if (a.plan().nodes().get(k).tacticId().startsWith("tessel.pool")) pool = k;
        assertTrue(pool >= 0, "the plan pools");
        int p = pool;
        EnginePlan int8 = with(a.plan(), p, n -> new PlannedNode(n.node(), n.op(), n.tacticId(), n.variant(), Precision.INT8, n.layout(), n.stream(), n.predictedUs()));
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.checkPlan(a.graph(), int8, GpuEngine.Precision.FP16));
        assertTrue(e.getMessage().contains("'" + int8.nodes().get(p).node() + "'") && e.getMessage().contains("has no INT8 kernel on the GPU"), e.getMessage());
    }

    @Test void aTacticWithoutAGpuImplementationIsNamed() {
        PlanApplier.Applied a = rulePlan("resnet50-tiny", Precision.FP16);
        int i = firstConv(a.plan());
        EnginePlan cpu = with(a.plan(), i, n -> n.withTactic("cpu.reference", ""));
        GpuEngineException e = assertThrows(GpuEngineException.class,
                () -> GpuEngine.build(a.graph(), cpu, GpuEngine.Precision.FP16, null, GpuEngine.Options.FIXED, 1));
        assertTrue(e.getMessage().contains("'" + cpu.nodes().get(i).node() + "'") && e.getMessage().contains("cpu.reference"), e.getMessage());
    }

    @Test void aNodeThePlanLacksIsNamed() {
        PlanApplier.Applied a = rulePlan("resnet50-tiny", Precision.FP16);
        List<PlannedNode> ns = new ArrayList<>(a.plan().nodes());
        PlannedNode gone = ns.remove(ns.size() - 1);
        GpuEngineException e = assertThrows(GpuEngineException.class,
                () -> GpuEngine.build(a.graph(), a.plan().withNodes(ns), GpuEngine.Precision.FP16, null, GpuEngine.Options.FIXED, 1));
        assertTrue(e.getMessage().contains("'" + gone.node() + "'"), e.getMessage());
    }
}

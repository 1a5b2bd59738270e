package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.runtime.gpu.GpuTestSupport.assertClose;

import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedMerge;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Engines of plans whose Q/K/V merges run as one strided-batched cuBLASLt GEMM ({@code batched_3}) and a Split of
 * views ({@code tessel.split.view}) match the reference interpreter: BERT-tiny and BERT-base, FP32 and FP16, one stream
 * (the memory planner slices the merged buffer: no copy), two streams (the concurrent planner does not slice: each part
 * is copied) and, for BERT-tiny, a guarded arena (no layer writes outside its outputs). A plan whose Split is views
 * while its GEMM is not batched, or the other way round, is refused naming the node.
 */
@Tag("gpu")
class MergedQkvGpuTest {
    static PlanApplier.Applied plan(Graph reference, Precision p) {
        SearchOptions o = SearchOptions.defaults().withTarget("h100-derived").withPrecisions(EnumSet.of(Precision.FP32, p));
        SearchProblem problem = Searcher.problem(Searcher.prepare(reference.copy()), o);
        return EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
    }

    @ParameterizedTest
    @ValueSource(strings = {"bert-tiny", "bert-base"})
    void mergedPlanEnginesMatchTheReference(String model) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph reference = Zoo.build(model, ZooOptions.defaults());
        List<Tensor> inputs = GpuEngineBench.inputs(reference, new SplittableRandom(5), -2, 2);
        Map<String, Tensor> named = new LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) named.put(reference.inputs().get(i).name(), inputs.get(i));
        List<Tensor> ref = List.copyOf(GpuTestSupport.reference(reference, named).values());
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (Precision p : List.of(Precision.FP32, Precision.FP16)) {
            PlanApplier.Applied a = plan(reference, p);
            int merges = a.plan().merges().size();
            assertTrue(merges > 0, model + " " + p.text() + ": the plan merges Q/K/V\n" + a.plan().render());
            for (PlannedMerge m : a.plan().merges()) assertEquals("tessel.split.view", a.plan().node(m.split()).tacticId(), m.name());
            GpuEngine.Precision gp = GpuEngine.precisionFor(a.plan(), a.graph());
            for (int streams : new int[] {1, 2}) {
                String what = model + " " + p.text() + " " + streams + " stream(s)";
                checks.check(what, () -> {
                    try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), gp, ctx, GpuEngine.Options.FIXED, streams); GpuExecutionContext c = e.createExecutionContext()) {
                        Map<String, Long> tactics = ZooEngineGpuTest.tactics(e);
                        System.out.printf("%s: tactics %s%n", what, tactics);
                        long batched = tactics.entrySet().stream().filter(t -> t.getKey().startsWith("cublaslt.gemm.") && t.getKey().endsWith("/batched_3"))
                                .mapToLong(Map.Entry::getValue).sum();
                        assertEquals(merges, batched, what + ": one batched GEMM per merge");
                        if (streams == 1)
                            assertEquals(merges, tactics.getOrDefault("tessel.split.view", 0L), what + ": every Split aliases its parts (no copy)");
                        double tol = PlanEngineGpuTest.tolerance(e);
                        compare(checks, what + " eager", c.run(inputs), ref, tol);
                        c.captureGraph();
                        compare(checks, what + " graph", c.run(inputs), ref, tol);
                    }
                });
            }
            if (model.equals("bert-tiny"))
                checks.check(model + " " + p.text() + " guarded", () -> {
                    try (GpuEngine e = GpuEngine.buildGuarded(a.graph(), a.plan(), gp, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                        compare(checks, model + " " + p.text() + " guarded", c.run(inputs), ref, PlanEngineGpuTest.tolerance(e));
                    }
                });
        }
        checks.done();
    }

    @org.junit.jupiter.api.Test void viewsWithoutTheBatchedGemmAndTheBatchedGemmWithoutViewsAreRefused() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        PlanApplier.Applied a = plan(Zoo.build("bert-tiny", ZooOptions.defaults()), Precision.FP32);
        PlannedMerge m = a.plan().merges().getFirst();
        String wide = a.graph().nodes().stream().filter(n -> n.name().equals(m.split())).findFirst().orElseThrow().input(0).producer().name();
        // the GEMM planned as one (no batched variant) while its Split is views: the Split would read parts never written so
        EnginePlan unbatched = a.plan().withNodes(a.plan().nodes().stream().map(n -> n.node().equals(wide) ? n.withVariant("") : n).toList());
        GpuEngineException e1 = assertThrows(GpuEngineException.class, () -> GpuEngine.build(a.graph(), unbatched, GpuEngine.Precision.FP32, ctx, GpuEngine.Options.FIXED, 1).close());
        assertTrue(e1.getMessage().contains(m.split()) && e1.getMessage().contains("batched"), e1.getMessage());
        // the batched GEMM with a copying Split: only views read the parts-one-after-another layout
        EnginePlan copying = a.plan().withNodes(a.plan().nodes().stream().map(n -> n.node().equals(m.split()) ? n.withTactic("tessel.split", "") : n).toList());
        GpuEngineException e2 = assertThrows(GpuEngineException.class, () -> GpuEngine.build(a.graph(), copying, GpuEngine.Precision.FP32, ctx, GpuEngine.Options.FIXED, 1).close());
        assertTrue(e2.getMessage().contains(wide) && e2.getMessage().contains("tessel.split.view"), e2.getMessage());
        assertFalse(a.plan().merges().isEmpty());
    }

    private static void compare(GpuTestSupport.Checks checks, String what, List<Tensor> got, List<Tensor> ref, double tol) {
        assertEquals(ref.size(), got.size(), what);
        for (int i = 0; i < got.size(); i++) {
            String name = what + " output " + i;
            Tensor gi = got.get(i), ri = ref.get(i);
            checks.check(name, () -> assertClose(name, gi, ri, tol));
        }
    }
}

package org.tessel.runtime.gpu.engine;

import static org.tessel.runtime.gpu.GpuTestSupport.assertClose;

import java.nio.file.Files;
import java.nio.file.Path;
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
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * Engines built from the search's plans (issue 9): for each zoo model, strategy (rule, joint, sequential, greedy) and
 * precision (FP32; FP16 with every node pinned to it where the search can, else as the search mixes it), the plan is
 * applied and built on the GPU exactly (each node's planned tactic), then run eagerly and as a CUDA graph against the
 * reference interpreter on the unoptimized graph; the first engine of each model also goes through its engine file
 * (saved with its plan, loaded, run). A plan the GPU builder cannot build yet (per-node precision) is reported, not hidden.
 */
@Tag("gpu")
class PlanEngineGpuTest {
    @ParameterizedTest
    @ValueSource(strings = {"resnet50-tiny", "mobilenetv2-tiny", "googlenet-tiny", "bert-tiny", "vit-tiny"})
    void planEnginesMatchTheReference(String model) throws Exception {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph reference = Zoo.build(model, ZooOptions.defaults());
        List<Tensor> inputs = GpuEngineBench.inputs(reference, new SplittableRandom(7), -2, 2);
        Map<String, Tensor> named = new LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) named.put(reference.inputs().get(i).name(), inputs.get(i));
        List<Tensor> ref = List.copyOf(GpuTestSupport.reference(reference, named).values());
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        boolean saved = false;
        for (Precision p : List.of(Precision.FP32, Precision.FP16)) {
            for (String strategy : List.of("rule", "joint", "sequential", "greedy")) {
                String what = model + " " + p.text() + " " + strategy;
                PlanApplier.Applied a = plan(reference, strategy, p);
                GpuEngine.Precision gp;
                try {
                    gp = GpuEngine.precisionFor(a.plan(), a.graph());
                } catch (GpuEngineException e) {
                    System.out.println("RESULT|plan " + what + "|-|-|-|-|not built: " + e.getMessage() + "|skip");
                    continue;
                }
                double tol = ZooEngineGpuTest.tolerance(gp);
                boolean first = !saved;
                saved = true;
                checks.check(what + " build", () -> {
                    try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), gp, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
                        System.out.printf("%s: %d layers, predicted %.4f ms, tactics %s%n", what, e.layerPlans().size(), a.plan().predictedUs() / 1000, ZooEngineGpuTest.tactics(e));
                        compare(checks, what + " eager", c.run(inputs), ref, tol);
                        c.captureGraph();
                        compare(checks, what + " graph", c.run(inputs), ref, tol);
                        if (first) roundTrip(checks, what, e, ctx, inputs, ref, tol);
                    }
                });
            }
        }
        checks.done();
    }

    /** The strategy's plan at precision p: every node pinned to p where the search allows it, else p allowed beside FP32. */
    static PlanApplier.Applied plan(Graph reference, String strategy, Precision p) {
        Graph prepared = Searcher.prepare(reference.copy());
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, p));
        if (p != Precision.FP32) {
            try {
                SearchOptions pinned = o.withPrecisionRules(List.of(PrecisionRule.parse("*=" + p.text())));
                SearchProblem problem = Searcher.problem(prepared, pinned);
                return EnginePlans.complete(problem, Searcher.run(problem, strategy, pinned));
            } catch (IllegalArgumentException e) {
                System.out.println("note: " + strategy + " at " + p.text() + " cannot pin every node (" + e.getMessage() + "); the search mixes precisions");
            }
        }
        SearchProblem problem = Searcher.problem(prepared, o);
        return EnginePlans.complete(problem, Searcher.run(problem, strategy, o));
    }

    /** Saves the engine with its plan, loads it back: the same plan, the same outputs. */
    private static void roundTrip(GpuTestSupport.Checks checks, String what, GpuEngine e, CudaContext ctx, List<Tensor> inputs, List<Tensor> ref, double tol) {
        try {
            Path file = Files.createTempFile("plan-engine", ".tessel");
            try {
                e.save(file);
                try (GpuEngine l = GpuEngine.load(file, ctx); GpuExecutionContext lc = l.createExecutionContext()) {
                    checks.check(what + " loaded plan", () -> org.junit.jupiter.api.Assertions.assertEquals(e.plan(), l.plan()));
                    compare(checks, what + " loaded", lc.run(inputs), ref, tol);
                }
            } finally {
                Files.deleteIfExists(file);
            }
        } catch (java.io.IOException x) {
            throw new java.io.UncheckedIOException(x);
        }
    }

    private static void compare(GpuTestSupport.Checks checks, String what, List<Tensor> got, List<Tensor> ref, double tol) {
        for (int i = 0; i < got.size(); i++) {
            String name = "engine " + what + " output " + i;
            Tensor gi = got.get(i), ri = ref.get(i);
            checks.check(name, () -> assertClose(name, gi, ri, tol));
        }
    }
}

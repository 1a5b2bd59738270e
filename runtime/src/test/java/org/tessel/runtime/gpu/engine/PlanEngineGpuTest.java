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
 * precision variant ({@link Variant}: FP32; FP16 or BF16 with every node pinned to it where the search can, else as the
 * search mixes it; all four precisions allowed, as the search mixes them; and a forced mix, the first half of the nodes
 * at FP16 and the rest at FP32, so casts sit between layers), the plan is applied and built on the GPU exactly (each
 * node's planned tactic at its planned precision), then run eagerly and as a CUDA graph against the reference
 * interpreter on the unoptimized graph; the first engine of each model and each mixed engine also go through the engine
 * file (saved with the plan, loaded, run).
 */
@Tag("gpu")
class PlanEngineGpuTest {
    /** The precisions a plan may use. */
    enum Variant {
        FP32, FP16, BF16, MIXED, HALVES;

        String text() { return name().toLowerCase(java.util.Locale.ROOT); }
    }

    /** The strategies the test builds. */
    static final List<String> STRATEGIES = List.of("rule", "joint", "sequential", "greedy");

    /** The rule is the GPU builder's fixed rule: one precision of FP32, TF32 and FP16, so it has no BF16 and no mixed variants. */
    static boolean applies(String strategy, Variant v) { return !strategy.equals("rule") || v == Variant.FP32 || v == Variant.FP16; }

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
        for (Variant v : Variant.values()) {
            for (String strategy : STRATEGIES) {
                if (!applies(strategy, v)) continue;
                String what = model + " " + v.text() + " " + strategy;
                PlanApplier.Applied a;
                try {
                    a = plan(reference, strategy, v);
                } catch (IllegalArgumentException e) {
                    System.out.println("RESULT|plan " + what + "|-|-|-|-|no plan: " + e.getMessage() + "|skip");
                    continue;
                }
                GpuEngine.Precision gp = GpuEngine.precisionFor(a.plan(), a.graph());
                boolean first = !saved;
                saved = true;
                checks.check(what + " build", () -> {
                    try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), gp, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
                        double tol = tolerance(e);
                        System.out.printf("%s: %d layers, precision %s, predicted %.4f ms, tactics %s%n", what, e.layerPlans().size(), e.describePrecision(),
                                a.plan().predictedUs() / 1000, ZooEngineGpuTest.tactics(e));
                        compare(checks, what + " eager", c.run(inputs), ref, tol);
                        c.captureGraph();
                        compare(checks, what + " graph", c.run(inputs), ref, tol);
                        if (first || e.precisionMix().size() > 1) roundTrip(checks, what, e, ctx, inputs, ref, tol);
                    }
                });
            }
        }
        checks.done();
    }

    /** The loosest tolerance of the precisions the engine's layers run at. */
    static double tolerance(GpuEngine e) {
        double t = 0;
        for (GpuEngine.Precision p : e.precisionMix().keySet()) t = Math.max(t, ZooEngineGpuTest.tolerance(p));
        return t == 0 ? ZooEngineGpuTest.tolerance(e.ioPrecision()) : t;
    }

    /** The strategy's plan for a precision variant (a pinned precision the search cannot give every node is mixed with FP32). */
    static PlanApplier.Applied plan(Graph reference, String strategy, Variant v) {
        Graph prepared = Searcher.prepare(reference.copy());
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured");
        switch (v) {
            case FP32 -> o = o.withPrecisions(EnumSet.of(Precision.FP32));
            case MIXED -> o = o.withPrecisions(EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16));
            case HALVES -> {
                // the first half of the nodes (schedule order) at FP16, the rest at FP32: a plan that must cast; the split
                // moves on past nodes that must be fused with their neighbours at one precision (attention's MatMuls)
                SearchOptions both = o.withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16));
                List<org.tessel.ir.Node> nodes = prepared.nodes();
                RuntimeException last = null;
                for (int split = nodes.size() / 2; split < nodes.size(); split++) {
                    List<PrecisionRule> rules = new java.util.ArrayList<>();
                    for (int i = 0; i < nodes.size(); i++)
                        if (!nodes.get(i).output().type().dtype().isInteger())
                            rules.add(PrecisionRule.parse(nodes.get(i).name() + "=" + (i < split ? "fp16" : "fp32")));
                    try {
                        SearchOptions halves = both.withPrecisionRules(rules);
                        SearchProblem problem = Searcher.problem(prepared, halves);
                        return EnginePlans.complete(problem, Searcher.run(problem, strategy, halves));
                    } catch (IllegalArgumentException | IllegalStateException | org.tessel.tactics.plan.PlanException e) {
                        last = e; // a split the strategy cannot plan (e.g. sequential leaving a GEMM unfused at a precision only its fused form runs)
                    }
                }
                throw new IllegalArgumentException("no split of " + reference.name() + " into an FP16 and an FP32 half has a plan: " + last.getMessage(), last);
            }
            case FP16, BF16 -> {
                Precision p = v == Variant.FP16 ? Precision.FP16 : Precision.BF16;
                o = o.withPrecisions(EnumSet.of(Precision.FP32, p));
                try {
                    SearchOptions pinned = o.withPrecisionRules(List.of(PrecisionRule.parse("*=" + p.text())));
                    SearchProblem problem = Searcher.problem(prepared, pinned);
                    return EnginePlans.complete(problem, Searcher.run(problem, strategy, pinned));
                } catch (IllegalArgumentException e) {
                    System.out.println("note: " + strategy + " at " + p.text() + " cannot pin every node (" + e.getMessage() + "); the search mixes precisions");
                }
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

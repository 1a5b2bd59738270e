package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.kernels.WeightOnlyGemm;
import org.tessel.runtime.gpu.kernels.WeightOnlyGemv;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.gemm.GemmTactics;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlanCheck;
import org.tessel.tactics.plan.PlanException;
import org.tessel.tactics.plan.PlannedNode;

/**
 * The weight-only GEMV's kernel form as the plan's variant of {@code tessel.gemv.weight_only}, on the emulated device
 * (kernel logic and launch arguments, never speed): a plan naming {@code plain}, {@code staged} or {@code mma} builds that
 * form, its layer reports it and the engine's plan records it, and its output is the CPU kernels' within
 * QuantizedMatMulEmulatedTest's bounds; with no variant the auto-tuner times every form that runs the node and keeps one,
 * or, without a tuner, {@link WeightOnlyGemv#form} is the default; a form that cannot run the node and a variant that
 * names no form are refused before any GPU work, naming the node and why.
 */
class WeightOnlyGemvFormsEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    static String gemv(WeightOnlyGemv.Form f) { return GpuTactics.variant(GpuTactics.GEMV_WEIGHT_ONLY, f.variant); }

    @Test void theKernelsFormsAreTheCataloguesVariants() {
        assertEquals(GemmTactics.WEIGHT_ONLY_GEMV.planVariants(), Arrays.stream(WeightOnlyGemv.Form.values()).map(f -> f.variant).toList());
        assertEquals(java.util.Set.copyOf(GemmTactics.WEIGHT_ONLY_GEMM.planVariants()), java.util.Set.copyOf(Arrays.stream(WeightOnlyGemm.Form.values()).map(f -> f.variant).toList()));
        assertTrue(GemmTactics.WEIGHT_ONLY_GEMV.summary().contains("variants plain, staged, mma"), GemmTactics.WEIGHT_ONLY_GEMV.summary());
        // where each form runs, the default first: f16 4-bit g128 at one row takes all three, at 3 rows not the staged form
        assertEquals(List.of(WeightOnlyGemv.Form.STAGED, WeightOnlyGemv.Form.PLAIN, WeightOnlyGemv.Form.MMA), WeightOnlyGemv.forms(DType.F16, 4, false, 128, 256, 1));
        assertEquals(List.of(WeightOnlyGemv.Form.MMA, WeightOnlyGemv.Form.PLAIN), WeightOnlyGemv.forms(DType.F16, 4, false, 128, 256, 3));
        assertEquals(List.of(WeightOnlyGemv.Form.PLAIN), WeightOnlyGemv.forms(DType.F32, 8, true, 32, 256, 5));
    }

    /**
     * The staged form at down_proj's K of 5632, where a lane loads its whole share of a row (6 chunks at 4 bits, 11 at 8:
     * 8 at once, {@link WeightOnlyGemv#stagedUnroll}) before the block stages x: the CPU's results at both precisions.
     */
    @Test void theStagedFormLoadingARowAtOnceComputesTheCpusResults() {
        assertEquals(8, WeightOnlyGemv.stagedUnroll(5632, 4, 1));
        for (int bits : new int[] {4, 8}) {
            Graph g = QuantizedMatMulEmulatedTest.weightOnly(1, 5632, 24, bits, 128, bits == 8, DType.F16, 5632L + bits);
            SplittableRandom r = new SplittableRandom(bits);
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16))
                QuantizedMatMulEmulatedTest.check(ctx, gemv(WeightOnlyGemv.Form.STAGED) + " K=5632 " + g.name() + " (emulated)", g, p, gemv(WeightOnlyGemv.Form.STAGED),
                        QuantizedMatMulEmulatedTest.input(r, 1, 5632, p.storage()));
        }
    }

    /** Every form a plan names, at every row count and precision where it runs: that form is built and computes the CPU's results. */
    @Test void aPlanNamingEachFormBuildsThatForm() {
        int checked = 0;
        for (int bits : new int[] {4, 8})
            for (int m : new int[] {1, 3, 13}) {
                Graph g = QuantizedMatMulEmulatedTest.weightOnly(m, 256, 75, bits, 128, false, DType.F16, bits * 100L + m);
                SplittableRandom r = new SplittableRandom(m * 17L + bits);
                for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16)) {
                    Map<String, Tensor> in = QuantizedMatMulEmulatedTest.input(r, m, 256, p.storage());
                    for (WeightOnlyGemv.Form f : WeightOnlyGemv.forms(p.storage(), bits, false, 128, 256, WeightOnlyGemv.rowsPerPass(m))) {
                        QuantizedMatMulEmulatedTest.check(ctx, gemv(f) + " " + g.name() + " (emulated)", g, p, gemv(f), in);
                        checked++;
                    }
                }
            }
        // one row: staged and plain at both precisions and bits, mma at FP16 4-bit (9); 3 and 13 rows (7 a pass): plain
        // at both, mma at FP16 4-bit (2 x 5)
        assertEquals(19, checked, "forms checked");
    }

    @Test void theBuiltPlanRecordsThePlannedFormAndALoadedPlanReplaysIt() {
        Graph g = QuantizedMatMulEmulatedTest.weightOnly(1, 256, 40, 4, 128, false, DType.F16, 3);
        PlanApplier.Applied a = QuantizedMatMulEmulatedTest.planned(g, GpuEngine.Precision.FP16, gemv(WeightOnlyGemv.Form.MMA));
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 1)) {
            PlannedNode proj = e.plan().byName().get("proj");
            assertEquals(GpuTactics.GEMV_WEIGHT_ONLY, proj.tacticId());
            assertEquals("mma", proj.variant());
            try (GpuEngine again = GpuEngine.build(a.graph(), e.plan(), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 1)) {
                assertEquals(e.layerPlans(), again.layerPlans());
            }
        }
    }

    /**
     * An optimization profile from one row to four: the staged form, tuned at one row, cannot run four rows (the build at
     * max refused it); {@link GpuEngine#variantsOverRange} replaces it with the first form that runs both (plain), and the
     * engines at both ends build from the kept plan. A form that holds over the range, or a profile of one shape, is kept.
     */
    @Test void aProfileKeepsAFormThatRunsOverItsWholeRange() {
        Graph one = QuantizedMatMulEmulatedTest.weightOnly(1, 256, 40, 4, 128, false, DType.F16, 5), four = QuantizedMatMulEmulatedTest.weightOnly(4, 256, 40, 4, 128, false, DType.F16, 5);
        PlanApplier.Applied opt = QuantizedMatMulEmulatedTest.planned(one, GpuEngine.Precision.FP16, gemv(WeightOnlyGemv.Form.STAGED));
        PlanApplier.Applied max = QuantizedMatMulEmulatedTest.planned(four, GpuEngine.Precision.FP16, GpuTactics.GEMV_WEIGHT_ONLY);
        GpuEngineException refused = assertThrows(GpuEngineException.class, () -> GpuEngine.build(max.graph(), opt.plan(), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 1).close());
        assertTrue(refused.getMessage().contains("staged form cannot run it"), refused.getMessage());
        List<String> lines = new ArrayList<>();
        var kept = GpuEngine.variantsOverRange(opt.graph(), opt.plan(), List.of(max.graph()), lines::add);
        assertEquals("plain", kept.byName().get("proj").variant());
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.getFirst().contains("'staged'") && lines.getFirst().contains("'plain'"), lines.getFirst());
        for (Graph g : List.of(opt.graph(), max.graph()))
            try (GpuEngine e = GpuEngine.build(g, kept, GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 1)) {
                assertEquals(List.of(gemv(WeightOnlyGemv.Form.PLAIN)), e.layerPlans().stream().filter(l -> l.node().equals("proj")).map(l -> l.tactic()).toList());
            }
        // a form that runs at both ends stays, and so does every form when the profile has one shape
        PlanApplier.Applied mma = QuantizedMatMulEmulatedTest.planned(one, GpuEngine.Precision.FP16, gemv(WeightOnlyGemv.Form.MMA));
        assertTrue(GpuEngine.variantsOverRange(mma.graph(), mma.plan(), List.of(max.graph()), lines::add) == mma.plan());
        assertTrue(GpuEngine.variantsOverRange(opt.graph(), opt.plan(), List.of(), lines::add) == opt.plan());
        assertEquals(1, lines.size());
    }

    /** Without a variant and without a tuner the default form runs, and the layer names it. */
    @Test void withoutAVariantOrATunerTheDefaultFormRuns() {
        for (int m : new int[] {1, 4}) {
            Graph g = QuantizedMatMulEmulatedTest.weightOnly(m, 256, 40, 4, 128, false, DType.F16, m);
            PlanApplier.Applied a = QuantizedMatMulEmulatedTest.planned(g, GpuEngine.Precision.FP16, GpuTactics.GEMV_WEIGHT_ONLY);
            try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 1)) {
                WeightOnlyGemv.Form want = m == 1 ? WeightOnlyGemv.Form.STAGED : WeightOnlyGemv.Form.MMA;
                assertEquals(want, WeightOnlyGemv.form(DType.F16, 4, false, 128, 256, m));
                assertEquals(List.of(gemv(want)), e.layerPlans().stream().map(l -> l.tactic()).toList());
                assertEquals(want.variant, e.plan().byName().get("proj").variant());
            }
        }
    }

    /**
     * With no variant the auto-tuner times every form that runs the node (here all three at one row, on a fused SiLU(gate) * up
     * prologue of two inputs: the tuner rotates the first), keeps the fastest, and the layer and the built plan name it; at its
     * cost-model level it times none and keeps the default.
     */
    @Test void withoutAVariantTheTunerTimesEveryFormThatRunsTheNode() {
        GpuEngine.Precision p = GpuEngine.Precision.FP16;
        Graph g = WeightOnlyGemvFusedEmulatedTest.quantized(GemvEmulatedTest.siluDown(1, 256, 75, p.storage(), 21L), 4, 128);
        Map<String, Tensor> in = GemvEmulatedTest.siluDownInputs(1, 256, 75, p.storage(), 22L);
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
        List<PlannedNode> ns = new ArrayList<>();
        for (PlannedNode pn : a.plan().nodes()) ns.add(new PlannedNode(pn.node(), pn.op(), pn.tacticId(), pn.variant(), Precision.FP16, pn.layout(), pn.stream(), pn.predictedUs()));
        PlanApplier.Applied planned = PlanApplier.apply(Searcher.prepare(g), a.plan().withNodes(ns));
        String fused = planned.plan().nodes().stream().filter(pn -> pn.tacticId().equals(GpuTactics.GEMV_WEIGHT_ONLY)).findFirst().orElseThrow().node();
        assertEquals("", planned.plan().byName().get(fused).variant());
        Map<String, Tensor> want = Engine.buildCpu(planned.graph(), planned.plan()).createContext().run(in);
        List<String> every = WeightOnlyGemv.forms(DType.F16, 4, false, 128, 256, 1).stream().map(WeightOnlyGemvFormsEmulatedTest::gemv).toList();
        assertEquals(3, every.size());
        for (var level : List.of(OptimizationLevel.ALL, OptimizationLevel.COST_MODEL)) {
            try (GpuEngine e = GpuEngine.build(planned.graph(), planned.plan(), p, ctx, GpuEngine.Options.level(level, 3, null), 1); GpuExecutionContext c = e.createExecutionContext()) {
                List<Autotuner.Record> records = e.tuner().records().stream().filter(rec -> rec.node().equals(fused)).toList();
                assertEquals(every, records.stream().map(Autotuner.Record::tactic).toList(), level + ": the forms offered, the default first");
                String chosen = records.stream().filter(Autotuner.Record::chosen).map(Autotuner.Record::tactic).findFirst().orElseThrow();
                if (level == OptimizationLevel.ALL) assertTrue(records.stream().allMatch(Autotuner.Record::timed), level + ": every form timed: " + records);
                else assertEquals(every.get(0), chosen, level + ": the default kept untimed");
                String layer = e.layerPlans().stream().filter(l -> l.node().equals(fused)).findFirst().orElseThrow().tactic();
                assertEquals(chosen, layer);
                assertEquals(GpuTactics.parts(chosen).get(1), e.plan().byName().get(fused).variant());
                Map<String, Tensor> got = c.run(in);
                for (var out : planned.graph().outputs())
                    org.tessel.runtime.gpu.GpuTestSupport.assertClose(level + " " + chosen + " " + out.name(), got.get(out.name()), want.get(out.name()), GemvEmulatedTest.tolerance(p));
            }
        }
    }

    /** A form that cannot run the node: refused by the plan check, before any GPU work, naming the node and the form's reason; and by the builder. */
    @Test void aPlannedFormThatCannotRunTheNodeIsRefusedNamingItAndWhy() {
        record Case(int m, int bits, int group, boolean zeros, GpuEngine.Precision p, WeightOnlyGemv.Form form, String why) {}
        List<Case> cases = List.of(
                new Case(1, 8, 128, false, GpuEngine.Precision.FP16, WeightOnlyGemv.Form.MMA, "the mma form cannot run it: 8-bit codes, not 4"),
                new Case(3, 4, 128, false, GpuEngine.Precision.FP32, WeightOnlyGemv.Form.MMA, "the mma form cannot run it: activations are f32, not f16"),
                new Case(3, 4, 128, true, GpuEngine.Precision.FP16, WeightOnlyGemv.Form.MMA, "the mma form cannot run it: codes have zero points"),
                new Case(3, 4, 64, false, GpuEngine.Precision.FP16, WeightOnlyGemv.Form.MMA, "the mma form cannot run it: K=256 or group size 64 is not a multiple of 128"),
                new Case(2, 4, 128, false, GpuEngine.Precision.FP16, WeightOnlyGemv.Form.STAGED, "the staged form cannot run it: 2 activation rows a pass, not one"),
                new Case(13, 8, 32, false, GpuEngine.Precision.FP32, WeightOnlyGemv.Form.STAGED, "the staged form cannot run it: 7 activation rows a pass, not one"));
        for (Case c : cases) {
            Graph g = QuantizedMatMulEmulatedTest.weightOnly(c.m(), 256, 40, c.bits(), c.group(), c.zeros(), DType.F16, c.m());
            PlanApplier.Applied a = QuantizedMatMulEmulatedTest.planned(g, c.p(), gemv(c.form()));
            // the catalogue knows the variant: the plan check (tactic-library's) passes it on to the builder
            PlanCheck.check(a.plan(), a.graph(), TacticCatalog.global(), DeviceSpec.byName("h100"));
            GpuEngineException pre = assertThrows(GpuEngineException.class, () -> GpuEngine.checkPlan(a.graph(), a.plan(), c.p()));
            assertTrue(pre.getMessage().contains("node 'proj'") && pre.getMessage().contains("'" + gemv(c.form()) + "'") && pre.getMessage().endsWith(c.why()), pre.getMessage());
            GpuEngineException built = assertThrows(GpuEngineException.class, () -> GpuEngine.build(a.graph(), a.plan(), c.p(), ctx, GpuEngine.Options.FIXED, 1).close());
            assertEquals(pre.getMessage(), built.getMessage());
            // a forced tactic skips the plan check: the builder refuses it the same way, before uploading anything
            GpuEngineException forced = assertThrows(GpuEngineException.class,
                    () -> GpuEngine.buildForced(g, Map.of("proj", gemv(c.form())), c.p(), ctx, GpuEngine.Options.FIXED).close());
            assertEquals("cannot build a GPU engine: node 'proj' (tessel.WeightOnlyMatMul): " + c.why(), forced.getMessage());
        }
    }

    /** A variant that names no form: the catalogue's plan check and the GPU plan check refuse it naming the variant and the forms. */
    @Test void aVariantThatNamesNoFormIsRefusedNamingIt() {
        Graph g = QuantizedMatMulEmulatedTest.weightOnly(1, 256, 40, 4, 128, false, DType.F16, 9);
        PlanApplier.Applied a = QuantizedMatMulEmulatedTest.planned(g, GpuEngine.Precision.FP16, GpuTactics.GEMV_WEIGHT_ONLY + "/tiled");
        PlanException plan = assertThrows(PlanException.class, () -> PlanCheck.check(a.plan(), a.graph(), TacticCatalog.global(), DeviceSpec.byName("h100")));
        assertEquals("node 'proj' (tessel.WeightOnlyMatMul): tactic tessel.gemv.weight_only has no variant 'tiled' (its variants: plain, staged, mma)", plan.getMessage());
        GpuEngineException pre = assertThrows(GpuEngineException.class, () -> GpuEngine.checkPlan(a.graph(), a.plan(), GpuEngine.Precision.FP16));
        assertEquals("cannot build a GPU engine: the plan runs node 'proj' (tessel.WeightOnlyMatMul) with 'tessel.gemv.weight_only/tiled': variant 'tiled' of tessel.gemv.weight_only"
                + " names no form of its kernel (its forms: plain, staged, mma)", pre.getMessage());
        GpuEngineException forced = assertThrows(GpuEngineException.class,
                () -> GpuEngine.buildForced(g, Map.of("proj", GpuTactics.GEMV_WEIGHT_ONLY + "/mma/x"), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED).close());
        assertTrue(forced.getMessage().endsWith("variant 'mma/x' of tessel.gemv.weight_only names no form of its kernel (its forms: plain, staged, mma)"), forced.getMessage());
    }

    /**
     * The weight-only GEMM's forms: a variant that names none, and the mma form at FP32 or with groups of 16, are refused
     * before any GPU work naming the node, the variant and why; the plan check names the forms.
     */
    @Test void aGemmVariantThatCannotRunIsRefusedNotIgnored() {
        Graph g = QuantizedMatMulEmulatedTest.weightOnly(40, 256, 40, 4, 128, false, DType.F16, 9);
        PlanApplier.Applied fast = QuantizedMatMulEmulatedTest.planned(g, GpuEngine.Precision.FP16, GpuTactics.GEMM_WEIGHT_ONLY + "/fast");
        PlanException plan = assertThrows(PlanException.class, () -> PlanCheck.check(fast.plan(), fast.graph(), TacticCatalog.global(), DeviceSpec.byName("h100")));
        assertEquals("node 'proj' (tessel.WeightOnlyMatMul): tactic tessel.gemm.weight_only has no variant 'fast' (its variants: mma, dequant, tiled)", plan.getMessage());
        GpuEngineException pre = assertThrows(GpuEngineException.class, () -> GpuEngine.checkPlan(fast.graph(), fast.plan(), GpuEngine.Precision.FP16));
        assertTrue(pre.getMessage().contains("node 'proj'") && pre.getMessage().endsWith("variant 'fast' of tessel.gemm.weight_only names no form of its kernel (its forms: tiled, mma, dequant)"),
                pre.getMessage());
        PlanApplier.Applied fp32 = QuantizedMatMulEmulatedTest.planned(g, GpuEngine.Precision.FP32, GpuTactics.GEMM_WEIGHT_ONLY + "/mma");
        GpuEngineException f32 = assertThrows(GpuEngineException.class, () -> GpuEngine.checkPlan(fp32.graph(), fp32.plan(), GpuEngine.Precision.FP32));
        assertTrue(f32.getMessage().endsWith("the mma form cannot run it: it multiplies f16 activations (mma.sync on f16), not f32"), f32.getMessage());
        Graph g16 = QuantizedMatMulEmulatedTest.weightOnly(40, 256, 40, 4, 16, false, DType.F16, 9);
        GpuEngineException forced = assertThrows(GpuEngineException.class,
                () -> GpuEngine.buildForced(g16, Map.of("proj", GpuTactics.GEMM_WEIGHT_ONLY + "/mma"), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED).close());
        assertTrue(forced.getMessage().endsWith("K=256 and group size 16 must be multiples of 32"), forced.getMessage());
    }
}

package org.tessel.examples.gridsample;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import org.tessel.tactics.TacticCatalog;
import org.tessel.search.EnginePlans;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * The plugin's kernel inside GPU engines, on the emulated device (a CPU test; the GPU run is GridSampleKernelGpuTest's):
 * a GridSample model per mode, padding and alignment, planned by the joint search (which picks the plugin's tactic), so Tessel's
 * builder compiles the plugin's CUDA C (here with g++) and launches it under ABI tessel-cuda-1 (PluginKernelLayers),
 * in a guarded arena that fails the run if the kernel writes past its output; FP32 and FP16 engines against the
 * plugin's reference. Zero edits to Tessel: the plugin's jar is all there is.
 */
class GridSampleEngineEmulatedTest {
    @Test void guardedEnginesRunThePluginKernelAsItsReferenceComputes() {
        List<String> failures = new ArrayList<>();
        int engines;
        try (var _ = TacticCatalog.install(TacticCatalog.classPath()); CudaContext ctx = CudaContext.emulated(2, 1L << 28)) {
            engines = everyVariant(ctx, failures);
        }
        assertEquals(36, engines);
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    @Test void theMeasuringSearchTimesThePluginKernelAloneAtEachPrecision() {
        // the tuner times a node in a graph of its own, whose values carry no layout (GridSample's layout does not matter
        // to the search): the plugin's f32/nchw and f16/nchw kernels must still answer (an H100 run dropped all three:
        // "declares no variant for f32/any", and the build fell back to cpu.reference)
        Graph g = OnnxImporter.importModel(GridSampleModels.single(new long[] {2, 3, 5, 7}, new long[] {2, 4, 6, 2}, "bilinear", "zeros", 0), "m.onnx",
                OnnxImporter.Options.defaults().withRegistry(GridSampleOpTest.REGISTRY));
        org.tessel.ir.Node warp = g.nodes().stream().filter(n -> n.opName().equals("GridSample")).findFirst().orElseThrow();
        try (var _ = TacticCatalog.install(TacticCatalog.classPath()); CudaContext ctx = CudaContext.emulated(2, 1L << 28)) {
            org.tessel.runtime.gpu.engine.GpuTuner tuner = new org.tessel.runtime.gpu.engine.GpuTuner(ctx, null);
            for (Precision p : List.of(Precision.FP32, Precision.FP16)) {
                var t = tuner.time(warp, GridSampleTactics.ID, p, org.tessel.api.Layout.NCHW);
                assertTrue(t instanceof org.tessel.tactics.Tuner.Timing.Measured, p + ": " + t);
            }
            assertEquals(0, tuner.refused(), tuner.refusals().toString());
        }
    }

    /**
     * Builds a guarded engine of the joint plan per mode, padding, alignment and precision (FP32, FP16) on {@code ctx}, runs it
     * and compares with the plugin's reference; adds a line to {@code failures} per mismatch. Returns the engines run.
     */
    static int everyVariant(CudaContext ctx, List<String> failures) {
        SplittableRandom r = new SplittableRandom(23);
        Tensor x = GridSampleModels.random(r, Shape.of(2, 3, 5, 7), 2.0), grid = GridSampleModels.random(r, Shape.of(2, 4, 6, 2), 1.5);
        int engines = 0;
        for (String mode : GridSampleOpTest.MODES)
            for (String padding : GridSampleOpTest.PADDINGS)
                for (int align = 0; align <= 1; align++) {
                    Graph g = OnnxImporter.importModel(GridSampleModels.single(new long[] {2, 3, 5, 7}, new long[] {2, 4, 6, 2}, mode, padding, align), "m.onnx",
                            OnnxImporter.Options.defaults().withRegistry(GridSampleOpTest.REGISTRY));
                    for (Precision p : List.of(Precision.FP32, Precision.FP16)) {
                        DType t = p.storage();
                        Tensor want = GridSampleOpTest.sample(x.cast(t), grid.cast(t), mode, padding, align);
                        PlanApplier.Applied a = plan(g, p);
                        try (GpuEngine e = GpuEngine.buildGuarded(a.graph(), a.plan(), p == Precision.FP32 ? GpuEngine.Precision.FP32 : GpuEngine.Precision.FP16, ctx);
                             GpuExecutionContext c = e.createExecutionContext()) {
                            assertEquals(List.of(GridSampleTactics.ID), e.layerPlans().stream().map(l -> l.tactic()).distinct().toList());
                            Tensor got = c.run(Map.of(g.inputs().get(0).name(), x, g.inputs().get(1).name(), grid)).get(g.outputs().get(0).name());
                            double tol = p == Precision.FP32 ? 1e-5 : 2e-3;
                            for (int i = 0; i < want.size(); i++) {
                                double w = want.getDouble(i), v = got.getDouble(i);
                                if (!(Math.abs(v - w) <= tol * Math.max(1, Math.abs(w)))) {
                                    failures.add(mode + "/" + padding + "/align " + align + " " + p + ": element " + i + " " + v + " vs " + w);
                                    break;
                                }
                            }
                            engines++;
                        }
                    }
                }
        return engines;
    }

    /** The joint search's plan with the GridSample pinned to precision p, on H100 (it prices the plugin's tactic against the CPU reference), applied to the graph. */
    static PlanApplier.Applied plan(Graph g, Precision p) {
        SearchOptions o = SearchOptions.defaults().withTarget("h100").withPrecisions(EnumSet.of(Precision.FP32, p))
                .withPrecisionRules(List.of(PrecisionRule.parse("GridSample=" + p.text())));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        return EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
    }
}

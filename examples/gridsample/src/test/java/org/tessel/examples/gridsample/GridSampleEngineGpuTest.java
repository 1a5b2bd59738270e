package org.tessel.examples.gridsample;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.runtime.Backend;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuEngineFile;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import org.tessel.runtime.tuning.TimingCache;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.PlanApplier;

/**
 * The plugin inside GPU engines on a real GPU: GridSampleEngineEmulatedTest's 36 guarded engines (every mode, padding and
 * alignment at FP32 and FP16, joint plans that pick the plugin's tactic, its CUDA C compiled by NVRTC and launched under
 * ABI tessel-cuda-1) against the plugin's reference; then the spatial-transformer model (Conv, Relu, GridSample, Conv)
 * as the joint search plans it at FP32 and FP16, run on the GPU against ONNX Runtime, with its per-layer times (the
 * plugin's layer among them). Tagged gpu: it runs on the GPU machine, never in ./run-tests.
 */
@Tag("gpu")
class GridSampleEngineGpuTest {
    @Test void guardedEnginesOnTheGpuMatchTheReference() {
        CudaContext ctx = gpu();
        List<String> failures = new ArrayList<>();
        int engines;
        try (var _ = TacticCatalog.install(TacticCatalog.classPath())) {
            engines = GridSampleEngineEmulatedTest.everyVariant(ctx, failures);
        }
        System.out.println("RESULT|example.gridsample.cuda in " + engines + " guarded GPU engines (FP32, FP16)|" + (failures.isEmpty() ? "ok" : "FAIL " + failures.getFirst()));
        assertEquals(36, engines);
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    @Test void spatialTransformerMatchesOnnxRuntime() throws Exception {
        CudaContext ctx = gpu();
        byte[] model = GridSampleModels.transformer(5);
        SplittableRandom r = new SplittableRandom(41);
        Tensor image = GridSampleModels.random(r, Shape.of(1, 3, 16, 16), 1.0), grid = GridSampleModels.random(r, Shape.of(1, 12, 12, 2), 1.1);
        Tensor want = GridSampleModels.runOrt(model, Map.of("image", image, "grid", grid)).get("out");
        Graph g = OnnxImporter.importModel(model, "spatial-transformer.onnx", OnnxImporter.Options.defaults().withRegistry(GridSampleOpTest.REGISTRY));
        try (var _ = TacticCatalog.install(TacticCatalog.classPath())) {
            for (int run = 0; run < 3; run++) {
                // FP32 and FP16 with the plan's tactics as they are; then FP16 by the measuring tuner (top 3 per layer timed)
                Precision p = run == 0 ? Precision.FP32 : Precision.FP16;
                TimingCache cache = run == 2 ? new TimingCache(GpuEngineFile.timingEnvironment(ctx)) : null;
                GpuEngine.Options options = cache == null ? GpuEngine.Options.FIXED : GpuEngine.Options.tuned(cache);
                SearchOptions o = SearchOptions.defaults().withTarget("h100").withPrecisions(EnumSet.of(Precision.FP32, p));
                SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
                PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
                try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), p == Precision.FP32 ? GpuEngine.Precision.FP32 : GpuEngine.Precision.FP16, ctx, options, 1);
                     GpuExecutionContext c = e.createExecutionContext()) {
                    List<String> tactics = e.layerPlans().stream().map(l -> l.tactic()).toList();
                    assertTrue(tactics.contains(GridSampleTactics.ID), "the joint plan runs the plugin's kernel: " + tactics);
                    Tensor got = c.run(Map.of("image", image, "grid", grid)).get("out");
                    double num = 0, den = 0;
                    for (int i = 0; i < want.size(); i++) {
                        double d = got.getDouble(i) - want.getDouble(i);
                        num += d * d;
                        den += want.getDouble(i) * want.getDouble(i);
                    }
                    double relL2 = Math.sqrt(num / Math.max(den, 1e-30)), bound = p == Precision.FP32 ? 1e-5 : 5e-3;
                    StringBuilder times = new StringBuilder();
                    for (GpuExecutionContext.LayerTime t : c.profileLayers(5, 50))
                        times.append(t.plan().node()).append(' ').append(t.plan().tactic()).append(String.format(" %.1f us; ", 1000 * t.medianMs()));
                    if (cache != null)
                        cache.entries().forEach((k, m) -> { if (k.tactic().startsWith("example.")) times.append("timed: ").append(k).append(" = ").append(m).append("; "); });
                    System.out.printf("RESULT|spatial transformer %s%s on the GPU vs ONNX Runtime: rel L2 %.2e (bound %.0e); layers: %s|%s%n", p.text(),
                            cache == null ? "" : " (tuned, " + cache.size() + " timings)", relL2, bound, times,
                            relL2 <= bound ? "ok" : "FAIL");
                    assertTrue(relL2 <= bound, p + ": relative L2 " + relL2 + " against ONNX Runtime, bound " + bound);
                }
            }
        }
    }

    /** The GPU's context; with -Dtessel.test.device=emulated, the emulated device's (the plugin's C compiled by g++). */
    static CudaContext gpu() {
        if ("emulated".equals(System.getProperty("tessel.test.device"))) return CudaContext.emulated(2, 1L << 28);
        Backend b = Backend.detect();
        assumeTrue(b instanceof Backend.Gpu, () -> "no CUDA GPU: " + b.describe());
        CudaContext ctx = ((Backend.Gpu) b).context();
        ctx.bind();
        return ctx;
    }
}

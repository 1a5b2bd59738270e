package org.tessel.examples.fastrelu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.tessel.ir.text.IrParser;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import org.tessel.search.EnginePlans;
import org.tessel.search.ForcedChoice;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.PlanApplier;

/**
 * The plugin's Relu kernel inside GPU engines on the emulated device (its CUDA C compiled by g++): a standalone Relu
 * forced onto example.relu.half8 at FP16 and BF16, built guarded (a write past the output fails the run), launched on
 * the grid its 8 elements a thread ask for (plugin API 1.1), against the reference interpreter bit for bit, on element
 * counts of one vector, of a partial last block, and of more vectors than the capped grid has threads.
 */
class FastReluEngineEmulatedTest {
    @Test void forcedPluginReluMatchesTheReference() {
        SplittableRandom r = new SplittableRandom(9);
        int engines = 0;
        try (var _ = TacticCatalog.install(TacticCatalog.classPath()); CudaContext ctx = CudaContext.emulated(2, 1L << 28)) {
            for (int n : new int[] {8, 8 * 37, 8 * 300})
                for (Precision p : List.of(Precision.FP16, Precision.BF16)) {
                    DType d = p.storage();
                    Graph g = IrParser.parse("graph @r(%x: f32[1," + n + "]) {\n  %y = Relu(%x) : f32[1," + n + "] loc(\"relu\")\n  return %y\n}\n", "relu.tir");
                    float[] v = new float[n];
                    for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble(-4, 4);
                    Tensor x = Tensor.ofFloats(DType.F32, Shape.of(1, n), v);
                    SearchOptions o = SearchOptions.defaults().withTarget("h100").withPrecisions(EnumSet.of(Precision.FP32, p))
                            .withPrecisionRules(List.of(PrecisionRule.parse("*=" + p.text())))
                            .withForced(List.of(ForcedChoice.parse("relu=" + FastReluTactics.ID)));
                    SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
                    PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
                    GpuEngine.Precision ep = p == Precision.FP16 ? GpuEngine.Precision.FP16 : GpuEngine.Precision.BF16;
                    try (GpuEngine e = GpuEngine.buildGuarded(a.graph(), a.plan(), ep, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                        assertTrue(e.layerPlans().stream().anyMatch(l -> l.tactic().equals(FastReluTactics.ID)), e.layerPlans().toString());
                        Tensor got = c.run(Map.of(g.inputs().get(0).name(), x)).get(g.outputs().get(0).name());
                        for (int i = 0; i < n; i++) {
                            float want = Math.max(x.cast(d).getFloat(i), 0f);
                            assertEquals(want, got.getFloat(i), 0f, p + " n=" + n + " element " + i);
                        }
                        engines++;
                    }
                }
        }
        assertEquals(6, engines);
    }
}

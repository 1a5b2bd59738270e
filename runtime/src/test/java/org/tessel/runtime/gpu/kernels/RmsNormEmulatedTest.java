package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import org.tessel.runtime.gpu.engine.GpuTactics;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * {@code tessel.rmsnorm} inside GPU engines on the emulated device (kernel logic and launch arguments, never speed):
 * RMSNormalization over the last axis at FP32, FP16 and BF16 against the CPU engine, on rows of 2048 (Llama-1B's
 * width: the warp-per-row kernel, 16 chunks a lane), rank 2 and 3, and on rows of 1001 (not a multiple of 4) and 4100
 * (past the warp kernel's 2048), which take the CTA-per-row kernel. Inputs and gamma are drawn exactly representable in
 * the storage type, so FP32 agrees to f32 summation order and FP16/BF16 within the output's rounding.
 */
class RmsNormEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    /** RMSNormalization(x, gamma) of input "x" of {@code shape} by a constant gamma drawn representable in {@code t}. */
    static Graph rmsNorm(int[] shape, DType t, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int len = shape[shape.length - 1];
        float[] gamma = new float[len];
        for (int i = 0; i < len; i++) gamma[i] = Tensor.round(t, (float) r.nextDouble(0.5, 1.5));
        NetworkBuilder b = new NetworkBuilder("rmsnorm_" + java.util.Arrays.toString(shape).replaceAll("[^0-9]+", "x"));
        Value x = b.input("x", DType.F32, shape);
        return b.output(b.rmsNorm(x, b.constant("gamma", Tensor.ofFloats(Shape.of(len), gamma)), -1, 1e-5f)).build();
    }

    static Map<String, Tensor> input(int[] shape, DType t, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Tensor x = Tensor.zeros(DType.F32, Shape.of(shape));
        for (int i = 0; i < x.size(); i++) x.setDouble(i, Tensor.round(t, (float) r.nextDouble(-3, 3)));
        return Map.of("x", x);
    }

    /** The rule's plan at {@code p} (RMSNormalization has one GPU tactic) run on {@code ctx}, checked against the CPU engine. */
    static void check(CudaContext ctx, Graph g, GpuEngine.Precision p, Map<String, Tensor> in) {
        Tensor want = Engine.buildCpu(g).createContext().run(in).get(g.outputs().get(0).name());
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.valueOf(p.name())));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "rule", o));
        Tensor got;
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), p, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
            assertEquals(List.of(GpuTactics.RMSNORM), e.layerPlans().stream().map(l -> l.tactic()).distinct().toList(), g.name());
            got = c.run(in).get(a.graph().outputs().get(0).name());
        }
        assertEquals(want.shape(), got.shape(), g.name());
        double u = switch (p) {
            case FP32 -> 0;
            case FP16 -> 0x1p-10;
            default -> 0x1p-7;
        };
        for (int i = 0; i < want.size(); i++) {
            double w = want.getFloat(i), err = Math.abs(got.getFloat(i) - w), bound = u * Math.abs(w) + 1e-5 * (1 + Math.abs(w));
            assertTrue(err <= bound, g.name() + " " + p + " element " + i + ": " + got.getFloat(i) + " vs " + w + " (bound " + bound + ")");
        }
    }

    @Test void theRmsNormMatchesTheCpuEngineOnBothKernels() {
        int checked = 0;
        for (int[] shape : new int[][] {{3, 2048}, {2, 1, 2048}, {4, 1001}, {2, 4100}}) {
            int len = shape[shape.length - 1];
            boolean warp = len == 2048;
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
                assertEquals(warp, LayerNorm.warpPerRow(p.storage(), len, LayerNorm.RMS_WARP_ROW_MAX), "kernel for rows of " + len);
                check(ctx, rmsNorm(shape, p.storage(), len + p.ordinal()), p, input(shape, p.storage(), shape.length * 31L + len));
                checked++;
            }
        }
        assertEquals(12, checked);
        // the layer norm's warp kernel keeps its 1024 limit
        assertTrue(!LayerNorm.warpPerRow(DType.F16, 2048, LayerNorm.WARP_ROW_MAX) && LayerNorm.warpPerRow(DType.F16, 1024, LayerNorm.WARP_ROW_MAX));
    }
}

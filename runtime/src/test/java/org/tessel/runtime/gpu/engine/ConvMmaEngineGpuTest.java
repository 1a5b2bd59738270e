package org.tessel.runtime.gpu.engine;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * {@code tessel.conv.mma} in FP16 engines: convolutions forced onto Tessel's implicit-GEMM kernel in NHWC (ResNet-50's
 * 3x3 shapes at batch 1, where K is split over the grid, a 1x1 over 2,048 channels, a strided one, a ResNet-style pair
 * whose second group fuses bias, residual Add and Relu, and layer3's 3x3 at batch 32, unsplit), each against the reference
 * interpreter; then the convolution layers timed beside the same plan forced onto cuDNN's fused call (a RESULT line).
 */
@Tag("gpu")
class ConvMmaEngineGpuTest {
    /** n, c, hw, k, kernel, stride, pad, dilation; bias; residual + relu (ConvIm2colGemmGpuTest's model). */
    static final Object[][] CASES = {
        {1, 512, 7, 512, 3, 1, 1, 1, true, true},
        {1, 256, 14, 256, 3, 1, 1, 1, true, false},
        {1, 128, 28, 128, 3, 1, 1, 1, true, false},
        {1, 64, 56, 64, 3, 1, 1, 1, true, false},
        {1, 2048, 7, 512, 1, 1, 0, 1, true, false},
        {2, 64, 15, 128, 3, 2, 1, 1, false, false},
        {1, 32, 12, 40, 3, 1, 2, 2, true, false},
        {1, 64, 9, 64, 3, 1, 1, 1, true, true},
        {32, 256, 14, 256, 3, 1, 1, 1, true, false},
    };

    @Test void matchesTheReferenceAndIsTimedBesideCudnn() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        boolean emulated = ctx.device().isEmulated();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(21);
        for (Object[] cs : CASES) {
            int n = (int) cs[0], c = (int) cs[1], hw = (int) cs[2], k = (int) cs[3], kr = (int) cs[4], st = (int) cs[5], pad = (int) cs[6], dil = (int) cs[7];
            boolean bias = (boolean) cs[8], residual = (boolean) cs[9];
            // the emulated device runs mma.sync in software and the profile runs each engine 35 times: the small cases there
            if (emulated && (long) n * hw * hw * c * k * kr * kr > 20_000_000L) continue;
            Graph g = ConvIm2colGemmGpuTest.model(n, c, hw, k, kr, st, pad, dil, bias, residual);
            Map<String, Tensor> inputs = new LinkedHashMap<>();
            for (var in : g.inputs()) inputs.put(in.name(), GpuTestSupport.random(r, DType.F32, in.type().shape(), -1, 1));
            Map<String, Tensor> ref = GpuTestSupport.reference(g, inputs);
            String what = "tessel.conv.mma n" + n + " c" + c + " " + hw + "x" + hw + " k" + k + " " + kr + "x" + kr + (st > 1 ? " s" + st : "") + (dil > 1 ? " d" + dil : "")
                    + (bias ? " bias" : "") + (residual ? " +residual relu" : "") + " fp16";
            checks.check(what, () -> {
                double[] us = Conv1x1GemmGpuTest.timedAgainst(ctx, g, inputs, ref, Precision.FP16,
                        emulated ? List.of("tessel.conv.mma") : List.of("tessel.conv.mma", "cudnn.conv.fused_bias_act"), what);
                System.out.printf("RESULT|%s timing|-|tessel.conv.mma %.1f us, cuDNN fused %.1f us|-|-|-|info%n", what, us[0], us[1]);
            });
        }
        checks.done();
    }

    /**
     * With a tuner and no split planned, the layer times its candidate splits and names the fastest in its tactic: the
     * engine reports {@code tessel.conv.mma/splitS} for a timed S, records one timing per candidate, and equals the reference.
     */
    @Test void aTunedBuildTimesTheSplitsAndNamesTheFastest() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph g = ConvIm2colGemmGpuTest.model(1, 64, 7, 64, 3, 1, 1, 1, true, false);
        SplittableRandom r = new SplittableRandom(5);
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        for (var in : g.inputs()) inputs.put(in.name(), GpuTestSupport.random(r, DType.F32, in.type().shape(), -1, 1));
        Map<String, Tensor> ref = GpuTestSupport.reference(g, inputs);
        org.tessel.tactics.plan.PlanApplier.Applied a = Conv1x1GemmGpuTest.plan(g, Precision.FP16, "tessel.conv.mma");
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.level(OptimizationLevel.TOP_K, 3, null), 1);
             GpuExecutionContext x = e.createExecutionContext()) {
            String tactic = e.layerPlans().stream().map(l -> l.tactic()).filter(t -> t.startsWith("tessel.conv.mma")).findFirst().orElseThrow();
            // one tile, K = 576 (18 slices): the SM-filling split is capped at 4 (splits of at least 4 slices); half 2, twice 8, none 1
            assertTrue(tactic.matches("tessel\\.conv\\.mma/split[1248]"), tactic);
            long timed = e.tuner().records().stream().filter(rec -> rec.tactic().startsWith("tessel.conv.mma/split")).filter(Autotuner.Record::timed).count();
            assertEquals(4, timed, "four candidate splits timed: " + e.tuner().records());
            String out = g.outputs().get(0).name();
            GpuTestSupport.assertClose("tuned tessel.conv.mma (" + tactic + ")", GpuTestSupport.asF32(x.run(inputs).get(out)), ref.get(out), GpuTestSupport.tolerance(DType.F16));
        }
    }
}

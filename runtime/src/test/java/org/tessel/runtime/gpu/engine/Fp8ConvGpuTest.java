package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * FP8 NHWC convolutions on the GPU (sm_89+), built by the GPU builder from a plan that runs them at FP8 (cuBLASLt's e4m3
 * GEMM over pixels, Tessel's FP8 epilogue with bias, residual and ReLU, E4M3 reformats around them) and run against the
 * CPU engine of the same plan, which emulates FP8 by fake quantization: the same E4M3 operands, sums in another order, so
 * an output code is off by a step here and there (relative L2 under 3e-2). A ResNet bottleneck whose 1x1 convolutions
 * are GEMMs as stored and whose 3x3 runs on an im2col matrix ({@code tessel.im2col}); and one graph per shape the
 * im2col serves (3x3 padded, 3x3 stride 2 with asymmetric pads, the 7x7 stride-2 stem over 3 channels, a dilated 3x3),
 * each convolution there with bias, with bias and ReLU, and with bias, residual and ReLU. cuBLASLt does not run on the
 * emulated device, so these skip there, saying so; Im2colGpuTest runs the im2col kernel there.
 */
@Tag("gpu")
class Fp8ConvGpuTest {
    /** The GPU when it has FP8 tensor cores; skips, saying why, on an older GPU or the emulated device. */
    private static CudaContext fp8Gpu(String what) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        if (GpuTestSupport.emulated()) System.out.println("RESULT|" + what + "|-|-|-|-|cuBLASLt's FP8 GEMM does not run on the emulated device|skip");
        Assumptions.assumeFalse(GpuTestSupport.emulated(), "cuBLASLt's FP8 GEMM does not run on the emulated device (Im2colGpuTest runs the im2col kernel there)");
        int sm = ctx.device().computeMajor() * 10 + ctx.device().computeMinor();
        if (sm < 89) System.out.println("RESULT|" + what + "|-|-|-|-|FP8 needs sm_89+, this GPU is sm_" + sm + "|skip");
        Assumptions.assumeTrue(sm >= 89, "FP8 needs sm_89+, this GPU is sm_" + sm);
        return ctx;
    }

    @Test void aBottleneckWithEveryConvolutionAtFp8RunsAsTheCpuEmulatesIt() {
        CudaContext ctx = fp8Gpu("fp8 bottleneck");
        List<Node> convs = Searcher.prepare(Fp8PlanRefusalTest.bottleneck()).nodes().stream().filter(n -> n.opName().equals("Conv")).toList();
        PlanApplier.Applied a = Fp8PlanRefusalTest.bottleneckPlan(convs.stream().map(Node::name).toArray(String[]::new));
        List<org.tessel.runtime.engine.LayerPlan> layers = check(ctx, "fp8 bottleneck", a, 7);
        assertEquals(2, layers.stream().filter(l -> l.tactic().equals(GpuTactics.CONV_1X1_GEMM + "/fp8")).count(), layers.toString());
        assertEquals(1, layers.stream().filter(l -> l.tactic().equals(GpuTactics.CONV_IM2COL_GEMM + "/fp8/im2col")).count(), "the 3x3 runs on an im2col matrix: " + layers);
    }

    /**
     * x0, x1, x2 [n, c, h, w] -> a convolution of {@code cout} filters kh x kw with the attributes given on each: + bias;
     * + bias, ReLU; + bias + r, ReLU (three inputs, so that the search does not merge the three into one).
     */
    static Graph threeWays(String name, int n, int c, int h, int w, int cout, int kh, int kw, long[] strides, long[] pads, long[] dilations) {
        NetworkBuilder b = new NetworkBuilder(name);
        Value[] x = new Value[3];
        for (int i = 0; i < 3; i++) x[i] = b.input("x" + i, DType.F32, n, c, h, w);
        int oh = (int) ((h + pads[0] + pads[2] - dilations[0] * (kh - 1) - 1) / strides[0] + 1), ow = (int) ((w + pads[1] + pads[3] - dilations[1] * (kw - 1) - 1) / strides[1] + 1);
        Value r = b.input("r", DType.F32, n, cout, oh, ow);
        Attributes at = Attributes.builder().put("strides", strides).put("pads", pads).put("dilations", dilations).put("group", 1L).build();
        float bound = (float) (1 / Math.sqrt((double) c * kh * kw));
        Value[] y = new Value[3];
        for (int i = 0; i < 3; i++) y[i] = b.op("Conv", at, x[i], b.uniformWeights("w" + i, -bound, bound, cout, c, kh, kw), b.uniformWeights("b" + i, -0.1f, 0.1f, cout));
        return b.output(y[0]).output(b.relu(y[1])).output(b.relu(b.add(y[2], r))).build();
    }

    @Test void fp8ConvolutionsOfEveryShapeTheIm2colServesRunAsTheCpuEmulatesThem() {
        CudaContext ctx = fp8Gpu("fp8 im2col convolutions");
        for (Graph g : im2colCases()) {
            List<String> convs = Searcher.prepare(g).nodes().stream().filter(n -> n.opName().equals("Conv")).map(Node::name).toList();
            assertEquals(3, convs.size(), g.name());
            PlanApplier.Applied a = Fp8PlanRefusalTest.fp8Plan(g, convs.toArray(String[]::new));
            List<org.tessel.runtime.engine.LayerPlan> layers = check(ctx, "fp8 " + g.name(), a, 11);
            assertEquals(3, layers.stream().filter(l -> l.tactic().equals(GpuTactics.CONV_IM2COL_GEMM + "/fp8/im2col")).count(), g.name() + ": " + layers);
        }
    }

    /** One graph per shape the im2col serves, three convolutions each ({@link #threeWays}). */
    static List<Graph> im2colCases() {
        return List.of(
                threeWays("conv3x3_pad1", 2, 32, 10, 10, 32, 3, 3, new long[] {1, 1}, new long[] {1, 1, 1, 1}, new long[] {1, 1}),       // M = 200: rows padded to 208
                threeWays("conv3x3_s2_asym", 2, 20, 15, 15, 32, 3, 3, new long[] {2, 2}, new long[] {1, 0, 0, 1}, new long[] {1, 1}),    // 4-byte copies, K = 180 -> 192
                threeWays("stem7x7_s2_c3", 2, 3, 32, 32, 16, 7, 7, new long[] {2, 2}, new long[] {3, 3, 3, 3}, new long[] {1, 1}),       // K = 147 -> 160, byte copies
                threeWays("conv3x3_dil2", 1, 16, 12, 12, 32, 3, 3, new long[] {1, 1}, new long[] {2, 2, 2, 2}, new long[] {2, 2}));      // dilation 2
    }

    /**
     * Builds the plan on the GPU and on the CPU, runs both on the same seeded inputs in [-1, 1), and checks every output's
     * relative L2 (3e-2); returns the GPU engine's layers.
     */
    private static List<org.tessel.runtime.engine.LayerPlan> check(CudaContext ctx, String what, PlanApplier.Applied a, long seed) {
        Graph g = a.graph();
        SplittableRandom r = new SplittableRandom(seed);
        List<Tensor> in = new ArrayList<>();
        Map<String, Tensor> byName = new HashMap<>();
        for (Value v : g.inputs()) {
            Tensor t = GpuTestSupport.random(r, DType.F32, v.type().shape(), -1, 1);
            in.add(t);
            byName.put(v.name(), t);
        }
        List<Tensor> cpu = Engine.buildCpu(g, a.plan()).createContext().run(in);
        GpuEngine.Precision io = GpuEngine.precisionFor(a.plan(), g);
        try (GpuEngine e = GpuEngine.build(g, a.plan(), io, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
            Map<String, Tensor> gpu = c.run(byName);
            for (int i = 0; i < g.outputs().size(); i++) {
                String out = g.outputs().get(i).name();
                double rel = Tensor.relativeL2(cpu.get(i), gpu.get(out));
                System.out.printf(Locale.ROOT, "RESULT|%s|%s|%%%s: GPU vs CPU emulation rel L2 %.2e|%s%n", what, e.describePrecision(), out, rel, rel <= 3e-2 ? "ok" : "FAIL");
                assertTrue(rel <= 3e-2, what + ": the GPU's FP8 output %" + out + " differs from the CPU's emulation of the same plan by relative L2 " + rel);
            }
            return e.layerPlans();
        }
    }
}

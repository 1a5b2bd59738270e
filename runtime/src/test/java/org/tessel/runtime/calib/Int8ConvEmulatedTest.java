package org.tessel.runtime.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuEngineException;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import org.tessel.runtime.gpu.engine.GpuTactics;
import org.tessel.tactics.plan.PlannedNode;

/**
 * {@code tessel.conv.int8_dp4a} built from INT8 plans on the emulated device (a CPU test of the kernels' logic and the
 * builder's wiring, never of speed): calibrate, search with the convolutions pinned to INT8 and forced onto this
 * tactic, build the GPU engine, and compare with the CPU engine's INT8 emulation of the same plan.
 *
 * <p>The bound: both sides quantize the same inputs with the same scales and multiply the same int8 codes. The GPU
 * sums them exactly in int32 and applies the epilogue in f32 (scale, bias, residual, clamp); the CPU sums the
 * dequantized products in f32. The two pre-rounding values therefore differ by a few f32 ulps of the sum, and the
 * output codes (rint(v / s_y)) of one convolution agree except where a value lies within those ulps of a rounding
 * boundary: there the code moves by exactly one. So for a single convolution every output is within one code of the
 * CPU's and at most 1% of them differ (a value is that close to a boundary about once in 10^4). Through a network a
 * moved code feeds later layers, so there the bound is on the network's output: relative L2 under 2e-2, as for
 * cuDNN's INT8 path on a real GPU (Int8EngineGpuTest, which also runs ResNet-50-tiny's plans on this tactic).
 */
class Int8ConvEmulatedTest {
    static final String FORCE = "=" + GpuTactics.CONV_INT8_DP4A + ":int8:nhwc";
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    /** One convolution case: x [1, c, h, w], filters k x c x r x s, pads (top, left, bottom, right), stride, residual, activation. */
    record Case(String name, int c, int h, int w, int k, int r, long[] pads, long stride, boolean residual, String act) {}

    static Graph single(Case cs, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        NetworkBuilder b = new NetworkBuilder(cs.name());
        Value x = b.input("x", DType.F32, 1, cs.c(), cs.h(), cs.w());
        Attributes a = Attributes.builder().put("kernel_shape", new long[] {cs.r(), cs.r()}).put("pads", cs.pads())
                .put("strides", new long[] {cs.stride(), cs.stride()}).build();
        Tensor w = GpuTestSupport.random(r, DType.F32, cs.k(), cs.c(), cs.r(), cs.r()), bias = GpuTestSupport.random(r, DType.F32, cs.k());
        Value y = b.name("conv").op("Conv", a, x, b.constant("w", w), b.constant("b", bias));
        if (cs.residual()) y = b.name("add").op("Add", Attributes.empty(), y, x);
        if (cs.act().equals("Relu")) y = b.name("relu").op("Relu", Attributes.empty(), y);
        if (cs.act().equals("Clip")) y = b.name("clip").op("Clip", Attributes.empty(), y, b.scalar("lo", DType.F32, 0), b.scalar("hi", DType.F32, 1.5));
        return b.output(y).build();
    }

    @Test void singleConvolutionsAgreeWithTheCpuEmulationWithinOneCode() {
        List<Case> cases = List.of(
                new Case("conv7x7s2", 8, 15, 15, 8, 7, new long[] {3, 3, 3, 3}, 2, false, "Relu"),
                new Case("conv3x3s1_residual_clip", 16, 7, 7, 16, 3, new long[] {1, 1, 1, 1}, 1, true, "Clip"),
                new Case("conv3x3s2_same_upper", 16, 8, 8, 20, 3, new long[] {0, 0, 1, 1}, 2, false, "Relu"),
                new Case("conv1x1s1_plain", 12, 6, 5, 68, 1, new long[] {0, 0, 0, 0}, 1, false, "none"),
                new Case("conv1x1s2", 8, 9, 9, 12, 1, new long[] {0, 0, 0, 0}, 2, false, "Relu"));
        agreeWithinOneCode(cases, FORCE, GpuTactics.CONV_INT8_DP4A + "/int8");
    }

    /**
     * {@code tessel.conv.mma} at INT8 (m16n8k32 tensor cores, the requantizing epilogue in the kernel), planned unsplit
     * and with K split 3 ways, and on the wide tile (the form the plan names as the tuner records it, {@code split1},
     * {@code split3}, {@code wide}), on the same bound: within one code of the CPU emulation, at most 1% of codes moved.
     */
    @Test void singleConvolutionsOnTheTensorCoreKernelAgreeWithTheCpuEmulationWithinOneCode() {
        List<Case> cases = List.of(
                new Case("mma3x3s1_relu", 64, 7, 7, 64, 3, new long[] {1, 1, 1, 1}, 1, false, "Relu"),
                new Case("mma3x3s1_residual_clip", 64, 6, 6, 64, 3, new long[] {1, 1, 1, 1}, 1, true, "Clip"),
                new Case("mma3x3s2_same_upper", 64, 9, 9, 80, 3, new long[] {0, 0, 1, 1}, 2, false, "Relu"),
                new Case("mma1x1s1_plain", 128, 6, 5, 48, 1, new long[] {0, 0, 0, 0}, 1, false, "none"));
        agreeWithinOneCode(cases, "=" + GpuTactics.CONV_MMA + ":int8:nhwc", GpuTactics.CONV_MMA + "/split1/int8");
        agreeWithinOneCode(cases.subList(0, 3), "=" + GpuTactics.CONV_MMA + ":int8:nhwc", GpuTactics.CONV_MMA + "/split3/int8");
        agreeWithinOneCode(cases, "=" + GpuTactics.CONV_MMA + ":int8:nhwc", GpuTactics.CONV_MMA + "/wide/int8");
    }

    /**
     * Each case's convolution forced onto {@code force} at INT8, built as a GPU engine reporting {@code reported}, within
     * one code of the CPU; where {@code reported} has a variant before {@code int8}, the plan names it (a tuned build's
     * plan as the engine file stores it).
     */
    private static void agreeWithinOneCode(List<Case> cases, String force, String reported) {
        List<String> parts = GpuTactics.parts(reported);
        String tactic = parts.getFirst(), variant = parts.size() > 2 ? parts.get(1) : "";
        for (Case cs : cases) {
            Graph g = single(cs, cs.name().hashCode());
            var planned = Int8ExecutionTest.plan(g, new Calibrator.MinMax(), 2, List.of("conv=int8"), List.of("conv" + force)).applied();
            var a = variant.isEmpty() ? planned : new org.tessel.tactics.plan.PlanApplier.Applied(planned.graph(), planned.plan().withNodes(planned.plan().nodes().stream()
                    .map(n -> n.tacticId().equals(tactic) ? n.withTactic(tactic, variant) : n).toList()));
            PlannedNode conv = a.plan().nodes().stream().filter(n -> n.precision() == Precision.INT8).findFirst().orElseThrow(() -> new AssertionError(cs + ": no INT8 node in " + a.plan().nodes()));
            assertEquals(tactic, conv.tacticId(), cs.name());
            // the graph's output is the INT8 node's output (or its NCHW reformat, at the same scale)
            String out = a.graph().nodes().stream().filter(n -> n.name().equals(conv.node())).findFirst().orElseThrow().output().name();
            Float sy = a.plan().quantization().scales().get(out);
            assertTrue(sy != null, cs.name() + ": the plan has no scale for the conv's output %" + out + ": " + a.plan().quantization().scales().keySet());
            List<Tensor> in = Int8ExecutionTest.input(a.graph(), 11);
            Tensor cpu = Engine.buildCpu(a.graph(), a.plan()).createContext().run(in).getFirst();
            try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.precisionFor(a.plan(), a.graph()), ctx, GpuEngine.Options.FIXED, 1);
                 GpuExecutionContext c = e.createExecutionContext()) {
                assertTrue(e.layerPlans().stream().map(LayerPlan::tactic).anyMatch(t -> t.equals(reported)), cs.name() + ": " + reported + " in " + e.layerPlans());
                Tensor gpu = c.run(in).getFirst();
                assertEquals(cpu.size(), gpu.size());
                int off = 0;
                for (int i = 0; i < gpu.size(); i++) {
                    double codes = Math.abs(gpu.getDouble(i) - cpu.getDouble(i)) / sy;
                    assertTrue(codes <= 1 + 1e-3, cs.name() + " element " + i + ": GPU " + gpu.getDouble(i) + ", CPU " + cpu.getDouble(i) + " (" + codes + " codes apart at scale " + sy + ")");
                    if (codes > 1e-3) off++;
                }
                System.out.printf(Locale.ROOT, "%s on %s: %d of %d outputs one code from the CPU emulation%n", cs.name(), reported, off, gpu.size());
                assertTrue(off <= gpu.size() / 100, cs.name() + ": " + off + " of " + gpu.size() + " codes differ");
            }
        }
    }

    /**
     * ResNet-50-tiny's shape in small (the zoo's stem reads 3 channels, which no INT8 kernel takes, and its FP32
     * convolutions are cuDNN's, which the emulated device refuses): a 7x7/2 stem over 4 channels, a max pool, two
     * bottlenecks (1x1, 3x3 with the stride on it in the second, 1x1, a 1x1 downsample, residual Add, ReLU), a
     * global average pool. Every convolution is named *conv*.
     */
    static Graph resnetStyle(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        NetworkBuilder b = new NetworkBuilder("resnet_style_tiny");
        Value x = b.input("x", DType.F32, 1, 4, 32, 32);
        Value y = b.relu(conv(b, r, "conv1", x, 4, 16, 7, 2, 3));
        y = b.maxPool(y, 3, 2, 1);
        int cin = 16;
        for (int stage = 1; stage <= 2; stage++) {
            int mid = 8 * stage, out = 32 * stage, stride = stage == 1 ? 1 : 2;
            String n = "layer" + stage + ".0.";
            Value t = b.relu(conv(b, r, n + "conv1", y, cin, mid, 1, 1, 0));
            t = b.relu(conv(b, r, n + "conv2", t, mid, mid, 3, stride, 1));
            t = conv(b, r, n + "conv3", t, mid, out, 1, 1, 0);
            Value down = conv(b, r, n + "downsample.conv", y, cin, out, 1, stride, 0);
            y = b.relu(b.add(t, down));
            cin = out;
        }
        return b.output(b.name("pool").globalAvgPool(y)).build();
    }

    private static Value conv(NetworkBuilder b, SplittableRandom r, String name, Value x, int cin, int cout, int k, int stride, int pad) {
        float std = (float) Math.sqrt(2.0 / (cin * k * k));
        Tensor w = GpuTestSupport.random(r, DType.F32, org.tessel.api.Shape.of(cout, cin, k, k), -std * 1.7, std * 1.7);
        return b.name(name).conv(x, b.constant(name + ".w", w), b.constant(name + ".b", GpuTestSupport.random(r, DType.F32, org.tessel.api.Shape.of(cout), -0.1, 0.1)), stride, pad);
    }

    @Test void aResnetStyleCnnWithEveryConvolutionOnTheDp4aKernelMatchesTheCpuEmulation() {
        Graph g = resnetStyle(21);
        var a = Int8ExecutionTest.plan(g, new Calibrator.MinMax(), 2, List.of("*conv*=int8"), List.of("*conv*" + FORCE)).applied();
        long dp4a = a.plan().nodes().stream().filter(n -> n.tacticId().equals(GpuTactics.CONV_INT8_DP4A)).count();
        assertEquals(9, dp4a, "every convolution runs the dp4a tactic: " + a.plan().nodes());
        List<Tensor> in = Int8ExecutionTest.input(a.graph(), 5);
        Tensor cpu = Engine.buildCpu(a.graph(), a.plan()).createContext().run(in).getFirst();
        Tensor ref = new org.tessel.ir.ReferenceInterpreter().run(g, Int8ExecutionTest.input(g, 5)).getFirst();
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.precisionFor(a.plan(), a.graph()), ctx, GpuEngine.Options.FIXED, 1);
             GpuExecutionContext c = e.createExecutionContext()) {
            assertEquals(dp4a, e.layerPlans().stream().filter(l -> l.tactic().equals(GpuTactics.CONV_INT8_DP4A + "/int8")).count(), e.layerPlans().toString());
            Tensor gpu = c.run(in).getFirst();
            double vsCpu = Tensor.relativeL2(cpu, gpu), vsRef = Tensor.relativeL2(ref, gpu), cpuVsRef = Tensor.relativeL2(ref, cpu);
            System.out.printf(Locale.ROOT, "resnet-style tiny CNN, %d convolutions on %s: GPU (emulated) vs CPU emulation rel L2 %.2e, vs FP32 %.2e (CPU vs FP32 %.2e)%n",
                    dp4a, GpuTactics.CONV_INT8_DP4A, vsCpu, vsRef, cpuVsRef);
            assertTrue(vsCpu <= 2e-2, "the GPU's INT8 engine differs from the CPU's emulation of the same plan by relative L2 " + vsCpu);
            assertTrue(vsRef > 1e-4 && vsRef <= Math.max(0.15, 2 * cpuVsRef), "INT8 quantizes and stays near FP32: " + vsRef);
        }
    }

    @Test void whatTheTacticCannotTakeIsRefusedNamingTheReason() {
        // three input channels: the search refuses the forced choice before solving, naming the tactic's reason
        Graph stem = single(new Case("stem", 3, 8, 8, 8, 3, new long[] {1, 1, 1, 1}, 1, false, "Relu"), 3);
        var ex = assertThrows(IllegalArgumentException.class, () -> Int8ExecutionTest.plan(stem, new Calibrator.MinMax(), 1, List.of("conv=int8"), List.of("conv" + FORCE)));
        assertTrue(ex.getMessage().contains(GpuTactics.CONV_INT8_DP4A) && ex.getMessage().contains("multiples of 4, read as 4-byte words (got 3 -> 8)"), ex.getMessage());
        // the tactic at FP32 (a plan edited by hand): the builder refuses it naming the node, before any kernel runs
        Graph g = single(new Case("fp32", 8, 6, 6, 8, 3, new long[] {1, 1, 1, 1}, 1, false, "Relu"), 4);
        var a = Int8ExecutionTest.plan(g, new Calibrator.MinMax(), 1, List.of(), List.of()).applied();
        var edited = a.plan().withNodes(a.plan().nodes().stream()
                .map(n -> n.tacticId().equals(GpuTactics.CONV_FUSED) ? n.withTactic(GpuTactics.CONV_INT8_DP4A, "") : n).toList());
        var gx = assertThrows(RuntimeException.class, () -> GpuEngine.build(a.graph(), edited, GpuEngine.Precision.FP32, ctx, GpuEngine.Options.FIXED, 1).close());
        assertTrue(gx.getMessage().contains(GpuTactics.CONV_INT8_DP4A) && gx.getMessage().contains("INT8 only"), gx.getMessage());
        // asymmetric pads at INT8: cuDNN's path refuses them and names this tactic
        Graph same = single(new Case("same", 16, 8, 8, 20, 3, new long[] {0, 0, 1, 1}, 2, false, "Relu"), 5);
        var s = Int8ExecutionTest.plan(same, new Calibrator.MinMax(), 1, List.of("conv=int8"), List.of("conv" + FORCE)).applied();
        var cudnn = s.plan().withNodes(s.plan().nodes().stream()
                .map(n -> n.tacticId().equals(GpuTactics.CONV_INT8_DP4A) ? n.withTactic(GpuTactics.CONV_FUSED, "") : n).toList());
        var cx = assertThrows(GpuEngineException.class, () -> GpuEngine.checkPlan(s.graph(), cudnn, GpuEngine.precisionFor(cudnn, s.graph())));
        assertTrue(cx.getMessage().contains("cuDNN takes symmetric pads") && cx.getMessage().contains(GpuTactics.CONV_INT8_DP4A + " takes these"), cx.getMessage());
    }
}

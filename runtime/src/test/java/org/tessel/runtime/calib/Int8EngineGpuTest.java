package org.tessel.runtime.calib;

import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;

/**
 * INT8 plans built on the GPU (issue 10): a calibrated plan with some convolutions (or GEMMs) pinned to INT8 is built by
 * the GPU builder (cuDNN's INT8 convolution or cuBLASLt's INT8 GEMM, Tessel's epilogue, quantize/dequantize casts at the
 * plan's scales) and run against the CPU engine of the same plan, which emulates INT8 by fake quantization: the two
 * compute the same codes but for sums the GPU takes exactly in int32 and the CPU in f32, so they agree to within a code
 * here and there (relative L2 under 2e-2), and both stay near the FP32 reference interpreter. One row forces every
 * layer convolution onto Tessel's dp4a convolution ({@code tessel.conv.int8_dp4a}), one the 1x1 convolutions onto
 * cuBLASLt's requantizing IMMA matmul over pixels ({@code cublaslt.conv1x1}) and the 3x3 ones onto the same after the
 * im2col gather of their codes ({@code cublaslt.conv.im2col}); {@link #int8TacticsOnResnet50Layers} times the INT8
 * tactics against each other on ResNet-50's layer shapes.
 */
@Tag("gpu")
class Int8EngineGpuTest {
    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {"resnet50-tiny;layer1*conv*=int8;", "resnet50-tiny;layer*conv*=int8;", "bert-tiny;*output.dense=int8;",
            "resnet50-tiny;layer*conv*=int8;layer*conv*=tessel.conv.int8_dp4a:int8:nhwc",
            "resnet50-tiny;layer*conv*=int8;layer*conv1*=cublaslt.conv1x1:int8:nhwc,layer*conv3*=cublaslt.conv1x1:int8:nhwc,layer*conv2*=cublaslt.conv.im2col:int8:nhwc"})
    void int8PlansRunOnTheGpuAsTheCpuEmulatesThem(String model, String rule, String forced) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph g = Int8ExecutionTest.graph(model);
        Int8ExecutionTest.Int8Build b;
        try {
            b = Int8ExecutionTest.plan(g, new Calibrator.MinMax(), 2, List.of(rule, "*=fp32|int8"), forced == null ? List.of() : List.of(forced.split(",")));
        } catch (IllegalArgumentException e) {
            System.out.println("RESULT|int8 " + model + " " + rule + "|-|-|-|-|no plan: " + e.getMessage() + "|skip");
            return;
        }
        var a = b.applied();
        long int8 = a.plan().nodes().stream().filter(n -> n.precision() == Precision.INT8).count();
        List<Tensor> in = Int8ExecutionTest.input(a.graph(), 3);
        List<Tensor> cpu = Engine.buildCpu(a.graph(), a.plan()).createContext().run(in);
        List<Tensor> ref = new org.tessel.ir.ReferenceInterpreter().run(g, Int8ExecutionTest.input(g, 3));
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        String what = "int8 " + model + " " + rule + (forced == null ? "" : " " + forced);
        checks.check(what, () -> {
            GpuEngine.Precision io = GpuEngine.precisionFor(a.plan(), a.graph());
            try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), io, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
                List<Tensor> gpu = c.run(in);
                for (int k = 0; k < gpu.size(); k++) {
                    double vsCpu = Tensor.relativeL2(cpu.get(k), gpu.get(k));
                    double vsRef = Tensor.relativeL2(ref.get(k), gpu.get(k));
                    double cpuVsRef = Tensor.relativeL2(ref.get(k), cpu.get(k));
                    c.captureGraph();
                    double[] ms = c.time(10, 50);
                    System.out.printf(Locale.ROOT, "%s: %d INT8 nodes of %d, precision %s, tactics %s; GPU vs CPU emulation rel L2 %.2e, GPU vs FP32 reference %.2e (CPU emulation vs reference %.2e), p50 %.4f ms%n",
                            what, int8, a.plan().nodes().size(), e.describePrecision(), int8Tactics(e), vsCpu, vsRef, cpuVsRef, GpuExecutionContext.quantile(ms, 0.5));
                    if (!(vsCpu <= 2e-2)) throw new AssertionError("output " + k + ": the GPU's INT8 engine differs from the CPU's emulation of the same plan by relative L2 " + vsCpu);
                    if (!(vsRef <= Math.max(0.15, 2 * cpuVsRef))) throw new AssertionError("output " + k + ": the GPU's INT8 engine is " + vsRef + " from the FP32 reference");
                }
            }
        });
        checks.done();
    }

    /** The tactics of the engine's INT8 layers with their counts, e.g. {cublaslt.conv1x1/int8=8, ...}. */
    static java.util.Map<String, Long> int8Tactics(GpuEngine e) {
        return e.layerPlans().stream().map(org.tessel.runtime.engine.LayerPlan::tactic).filter(t -> t.contains("/int8"))
                .collect(java.util.stream.Collectors.groupingBy(t -> t, java.util.TreeMap::new, java.util.stream.Collectors.counting()));
    }

    /**
     * The INT8 convolution tactics against each other on ResNet-50 layer shapes (batch 8, bias + ReLU): cuDNN's INT8
     * convolution ({@code cudnn.conv.fused_bias_act} at INT8, Tessel's epilogue), Tessel's dp4a convolution, and cuBLASLt's
     * requantizing IMMA matmul over the pixels ({@code cublaslt.conv1x1} for a 1x1, stride-1 one, else
     * {@code cublaslt.conv.im2col}): the same INT8 plan with the one convolution forced onto each tactic, built as a GPU
     * engine, the outputs compared (within a code here and there: the sums are exact on all but cuDNN's past c·r·s = 1040,
     * which arrive as f32, and cuBLASLt rounds its own epilogue) and timed. Prints the p50 of each and the ratios: the
     * figures that price the INT8 tactics. Needs a real GPU (timings on the emulated device mean nothing).
     */
    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {"layer1.conv2 3x3;64;56;64;3;1;1", "layer1.conv3 1x1;64;56;256;1;1;0", "layer2.conv2 3x3/2;128;56;128;3;2;1",
            "layer3.conv2 3x3;256;14;256;3;1;1", "layer3.conv1 1x1;1024;14;256;1;1;0", "sliced 3x3 (3.5 MiB of matrix an image);16;160;16;3;1;1"})
    void int8TacticsOnResnet50Layers(String layer, int c, int hw, int k, int r, int stride, int pad) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        org.junit.jupiter.api.Assumptions.assumeFalse(GpuTestSupport.emulated(), "cuDNN does not run on the emulated device, and its timings mean nothing");
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(k * 31L + c);
        org.tessel.ir.NetworkBuilder nb = new org.tessel.ir.NetworkBuilder("resnet50_layer");
        var x = nb.input("x", org.tessel.api.DType.F32, 8, c, hw, hw);
        float std = (float) Math.sqrt(2.0 / (c * r * r));
        Tensor w = GpuTestSupport.random(rnd, org.tessel.api.DType.F32, org.tessel.api.Shape.of(k, c, r, r), -1.7 * std, 1.7 * std);
        Graph g = nb.output(nb.relu(nb.name("conv").conv(x, nb.constant("w", w), nb.constant("b", GpuTestSupport.random(rnd, org.tessel.api.DType.F32, k)), stride, pad))).build();
        String gemm = r == 1 && stride == 1 && pad == 0 ? org.tessel.runtime.gpu.engine.GpuTactics.CONV_1X1_GEMM : org.tessel.runtime.gpu.engine.GpuTactics.CONV_IM2COL_GEMM;
        String[] tactics = {org.tessel.runtime.gpu.engine.GpuTactics.CONV_FUSED, org.tessel.runtime.gpu.engine.GpuTactics.CONV_INT8_DP4A, gemm};
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        checks.check("int8 " + layer + " cuDNN, dp4a and " + gemm, () -> {
            double[] p50 = new double[tactics.length];
            String[] built = new String[tactics.length];
            List<Tensor> outs = new java.util.ArrayList<>();
            List<Tensor> in = null;
            for (int t = 0; t < tactics.length; t++) {
                var a = Int8ExecutionTest.plan(g, new Calibrator.MinMax(), 1, List.of("conv=int8"), List.of("conv=" + tactics[t] + ":int8:nhwc")).applied();
                if (in == null) in = Int8ExecutionTest.input(a.graph(), 3);
                try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.precisionFor(a.plan(), a.graph()), ctx, GpuEngine.Options.FIXED, 1);
                     GpuExecutionContext cx = e.createExecutionContext()) {
                    built[t] = int8Tactics(e).keySet().toString();
                    outs.add(cx.run(in).getFirst());
                    cx.captureGraph();
                    p50[t] = GpuExecutionContext.quantile(cx.time(20, 100), 0.5);
                }
            }
            double flops = 2.0 * 8 * k * c * r * r * Math.pow((hw + 2 * pad - r) / stride + 1, 2);
            StringBuilder sb = new StringBuilder();
            for (int t = 0; t < tactics.length; t++)
                sb.append(String.format(Locale.ROOT, "|%s p50 %.4f ms (%.1f TOPS)", built[t], p50[t], flops / p50[t] / 1e9));
            double dp4a = Tensor.relativeL2(outs.get(0), outs.get(1)), lt = Tensor.relativeL2(outs.get(0), outs.get(2));
            System.out.printf(Locale.ROOT, "RESULT|int8 conv %s b8 (%d->%d, %dx%d/%d, %dx%d)%s|cuBLASLt/cuDNN %.2fx|rel L2 vs cuDNN: dp4a %.2e, cuBLASLt %.2e|ok%n",
                    layer, c, k, r, r, stride, hw, hw, sb, p50[2] / p50[0], dp4a, lt);
            if (!(dp4a <= 1e-2)) throw new AssertionError(layer + ": cuDNN's and Tessel's INT8 convolutions differ by relative L2 " + dp4a);
            if (!(lt <= 1e-2)) throw new AssertionError(layer + ": cuDNN's INT8 convolution and cuBLASLt's INT8 matmul over pixels differ by relative L2 " + lt);
        });
        checks.done();
    }
}

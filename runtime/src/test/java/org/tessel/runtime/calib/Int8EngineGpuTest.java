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
 * here and there (relative L2 under 2e-2), and both stay near the FP32 reference interpreter.
 */
@Tag("gpu")
class Int8EngineGpuTest {
    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {"resnet50-tiny;layer1*conv*=int8", "resnet50-tiny;layer*conv*=int8", "bert-tiny;*output.dense=int8"})
    void int8PlansRunOnTheGpuAsTheCpuEmulatesThem(String model, String rule) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph g = Int8ExecutionTest.graph(model);
        Int8ExecutionTest.Int8Build b;
        try {
            b = Int8ExecutionTest.plan(g, new Calibrator.MinMax(), 2, List.of(rule, "*=fp32|int8"));
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
        String what = "int8 " + model + " " + rule;
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
                    System.out.printf(Locale.ROOT, "%s: %d INT8 nodes of %d, precision %s; GPU vs CPU emulation rel L2 %.2e, GPU vs FP32 reference %.2e (CPU emulation vs reference %.2e), p50 %.4f ms%n",
                            what, int8, a.plan().nodes().size(), e.describePrecision(), vsCpu, vsRef, cpuVsRef, GpuExecutionContext.quantile(ms, 0.5));
                    if (!(vsCpu <= 2e-2)) throw new AssertionError("output " + k + ": the GPU's INT8 engine differs from the CPU's emulation of the same plan by relative L2 " + vsCpu);
                    if (!(vsRef <= Math.max(0.15, 2 * cpuVsRef))) throw new AssertionError("output " + k + ": the GPU's INT8 engine is " + vsRef + " from the FP32 reference");
                }
            }
        });
        checks.done();
    }
}

package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * FP8 1x1 NHWC convolutions on the GPU (sm_89+): a bottleneck block whose two 1x1 convolutions (the second with its
 * residual) the plan runs at FP8 is built by the GPU builder (cuBLASLt's e4m3 GEMM over pixels, Tessel's FP8 epilogue with
 * bias, residual and ReLU, E4M3 reformats around them) and run against the CPU engine of the same plan, which emulates
 * FP8 by fake quantization: the same E4M3 operands, sums in another order, so an output code is off by a step here and
 * there (relative L2 under 3e-2).
 */
@Tag("gpu")
class Fp8ConvGpuTest {
    @Test void fp8OneByOneConvolutionsRunAsTheCpuEmulatesThem() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        int sm = ctx.device().computeMajor() * 10 + ctx.device().computeMinor();
        if (sm < 89) {
            System.out.println("RESULT|fp8 1x1 convolutions|-|-|-|-|FP8 needs sm_89+, this GPU is sm_" + sm + "|skip");
            return;
        }
        List<Node> convs = Searcher.prepare(Fp8PlanRefusalTest.bottleneck()).nodes().stream().filter(n -> n.opName().equals("Conv")).toList();
        PlanApplier.Applied a = Fp8PlanRefusalTest.bottleneckPlan(convs.get(0).name(), convs.get(2).name());
        Graph g = a.graph();
        Tensor x = GpuTestSupport.random(new SplittableRandom(7), DType.F32, g.inputs().get(0).type().shape(), -1, 1);
        Tensor cpu = Engine.buildCpu(g, a.plan()).createContext().run(List.of(x)).getFirst();
        GpuEngine.Precision io = GpuEngine.precisionFor(a.plan(), g);
        try (GpuEngine e = GpuEngine.build(g, a.plan(), io, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
            long fp8 = e.layerPlans().stream().filter(l -> l.tactic().startsWith(GpuTactics.CONV_FUSED + "/fp8")).count();
            assertEquals(2, fp8, e.layerPlans().toString());
            Tensor gpu = c.run(java.util.Map.of(g.inputs().get(0).name(), x)).values().iterator().next();
            double rel = Tensor.relativeL2(cpu, gpu);
            System.out.printf(Locale.ROOT, "RESULT|fp8 1x1 convolutions|%s|GPU vs CPU emulation rel L2 %.2e|%s%n", e.describePrecision(), rel, rel <= 3e-2 ? "ok" : "FAIL");
            if (!(rel <= 3e-2)) throw new AssertionError("the GPU's FP8 1x1 convolutions differ from the CPU's emulation of the same plan by relative L2 " + rel);
        }
    }
}

package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.api.Attributes;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.search.EnginePlans;
import org.tessel.search.ForcedChoice;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * {@code cublaslt.conv1x1} on the GPU: 1x1 convolutions forced onto the cuBLASLt matmul in NHWC at FP16 and BF16, with
 * and without a bias, a ResNet-style pair whose second group fuses bias, residual Add and Relu (the RELU_BIAS epilogue,
 * the residual as C), and channels that are not multiples of 64 (the matmul's tiles cut), each against the reference
 * interpreter; then the engine's convolution layers timed beside the same plan forced onto cuDNN's fused call (a RESULT
 * line: us each).
 */
@Tag("gpu")
class Conv1x1GemmGpuTest {
    /** n, c, hw, k; bias; residual + relu. */
    static final Object[][] CASES = {
        {2, 64, 14, 128, true, true},
        {2, 64, 14, 128, false, false},
        {1, 256, 7, 1024, true, false},
        {3, 40, 9, 72, true, true},
        {32, 64, 56, 64, true, false},
    };

    /**
     * One 1x1 convolution c -> k; with {@code residual} a ResNet-style pair: a = relu(conv1(x)), then relu(conv2(a) + a), so
     * the residual is produced in NHWC and the second convolution's group carries bias, residual and Relu.
     */
    static Graph model(int n, int c, int hw, int k, boolean bias, boolean residual) {
        NetworkBuilder b = new NetworkBuilder("c1");
        Value x = b.input("x", DType.F32, n, c, hw, hw);
        Attributes one = Attributes.builder().put("kernel_shape", 1L, 1L).build();
        Value w1 = b.uniformWeights("w1", -0.2f, 0.2f, k, c, 1, 1);
        Value y = bias ? b.node("Conv", "conv1", one, 1, x, w1, b.uniformWeights("b1", -0.5f, 0.5f, k)).output() : b.node("Conv", "conv1", one, 1, x, w1).output();
        if (residual) {
            Value a = b.node("Relu", "relu1", Attributes.empty(), 1, y).output();
            Value w2 = b.uniformWeights("w2", -0.1f, 0.1f, k, k, 1, 1);
            Value y2 = bias ? b.node("Conv", "conv2", one, 1, a, w2, b.uniformWeights("b2", -0.5f, 0.5f, k)).output() : b.node("Conv", "conv2", one, 1, a, w2).output();
            y = b.node("Relu", "relu2", Attributes.empty(), 1, b.node("Add", "add", Attributes.empty(), 1, y2, a).output()).output();
        }
        b.output(y);
        return b.graph();
    }

    @Test void matchesTheReferenceAtFp16AndBf16() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(11);
        for (Object[] cs : CASES) {
            int n = (int) cs[0], c = (int) cs[1], hw = (int) cs[2], k = (int) cs[3];
            boolean bias = (boolean) cs[4], residual = (boolean) cs[5];
            Graph g = model(n, c, hw, k, bias, residual);
            Map<String, Tensor> inputs = new LinkedHashMap<>();
            for (var in : g.inputs()) inputs.put(in.name(), GpuTestSupport.random(r, DType.F32, in.type().shape(), -1, 1));
            Map<String, Tensor> ref = GpuTestSupport.reference(g, inputs);
            for (Precision p : List.of(Precision.FP16, Precision.BF16)) {
                String what = "cublaslt.conv1x1 n" + n + " c" + c + " " + hw + "x" + hw + " k" + k + (bias ? " bias" : "") + (residual ? " +residual relu" : "") + " " + p.text();
                checks.check(what, () -> {
                    double[] us = againstCudnn(ctx, g, inputs, ref, p, "cublaslt.conv1x1", what);
                    System.out.printf("RESULT|%s timing|-|cuBLASLt %.1f us, cuDNN fused %.1f us|-|-|-|info%n", what, us[0], us[1]);
                });
            }
        }
        checks.done();
    }

    /**
     * Graph {@code g}'s engine at p with its convolutions forced onto {@code tactic}, checked against the reference
     * outputs {@code ref}, and again forced onto cuDNN's fused call: the two engines' convolution layers' summed median
     * microseconds.
     */
    static double[] againstCudnn(CudaContext ctx, Graph g, Map<String, Tensor> inputs, Map<String, Tensor> ref, Precision p, String tactic, String what) {
        return timedAgainst(ctx, g, inputs, ref, p, List.of(tactic, "cudnn.conv.fused_bias_act"), what);
    }

    /** As {@link #againstCudnn}, over the tactics listed (the first checked against the reference); NaN for those not listed. */
    static double[] timedAgainst(CudaContext ctx, Graph g, Map<String, Tensor> inputs, Map<String, Tensor> ref, Precision p, List<String> tactics, String what) {
        double[] us = {Double.NaN, Double.NaN};
        int i = 0;
        for (String t : tactics) {
            us[i] = 0;
            PlanApplier.Applied a = plan(g, p, t);
            GpuEngine.Precision ep = p == Precision.FP16 ? GpuEngine.Precision.FP16 : GpuEngine.Precision.BF16;
            try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), ep, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext x = e.createExecutionContext()) {
                assertTrue(e.layerPlans().stream().anyMatch(l -> l.tactic().startsWith(t)), t + " runs the convolution: " + e.layerPlans());
                Map<String, Tensor> got = x.run(inputs);
                String out = g.outputs().get(0).name();
                if (i == 0) GpuTestSupport.assertClose(what, GpuTestSupport.asF32(got.get(out)), ref.get(out), GpuTestSupport.tolerance(p.storage()));
                for (GpuExecutionContext.LayerTime lt : x.profileLayers(5, 30))
                    if (lt.plan().tactic().startsWith(t)) us[i] += 1000 * lt.medianMs();
            }
            i++;
        }
        return us;
    }

    /** The joint plan at precision p with every node pinned to it and the convolution (fused or not) forced onto {@code tactic} in NHWC. */
    static PlanApplier.Applied plan(Graph g, Precision p, String tactic) {
        SearchOptions o = SearchOptions.defaults().withTarget("h100").withPrecisions(EnumSet.of(Precision.FP32, p))
                .withPrecisionRules(List.of(PrecisionRule.parse("*=" + p.text())))
                .withForced(List.of(ForcedChoice.parse("conv*=" + tactic + ":" + p.text() + ":nhwc")));
        // every convolution (and the group it fuses into) is forced; a Relu or Add left outside a group runs tessel.eltwise
        SearchProblem problem = Searcher.problem(Searcher.prepare(g.copy()), o);
        return EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
    }
}

package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * Convolutions fused with each activation the fusion patterns take but ReLU and PRelu (Clip, Sigmoid, Tanh, HardSigmoid,
 * HardSwish, LeakyRelu, GELU erf and tanh): cuDNN's fused call, the depthwise kernel and cuBLASLt's 1x1 matmul, each
 * followed by the activation kernel, built both by the engine's rule (the GPU pipeline fuses Conv and the activation:
 * the route by which torchvision's EfficientNet, LR-ASPP and SSDlite exports failed with "conv_bias_act body op Sigmoid")
 * and from the greedy strategy's plan (which fuses them too), against the reference interpreter. On the emulated device
 * (no cuDNN, no cuBLASLt) only the depthwise kernel's planned cases run. Likewise a MatMul + bias fused with Sigmoid,
 * HardSigmoid, HardSwish, LeakyRelu or Clip: cuBLASLt's bias epilogue, then the activation kernel (a GPU only).
 */
@Tag("gpu")
class FusedActivationGpuTest {
    /** The activations, as (op, attributes). */
    static List<Object[]> activations() {
        List<Object[]> a = new ArrayList<>();
        a.add(new Object[] {"Clip", null});
        a.add(new Object[] {"Sigmoid", Attributes.empty()});
        a.add(new Object[] {"Tanh", Attributes.empty()});
        a.add(new Object[] {"HardSigmoid", Attributes.builder().put("alpha", 0.3f).put("beta", 0.4f).build()});
        a.add(new Object[] {"HardSwish", Attributes.empty()});
        a.add(new Object[] {"LeakyRelu", Attributes.builder().put("alpha", 0.13f).build()});
        a.add(new Object[] {"Gelu", Attributes.empty()});
        a.add(new Object[] {"Gelu", Attributes.builder().put("approximate", "tanh").build()});
        return a;
    }

    /** The convolution forms: 3x3 (cuDNN), depthwise 3x3 (Tessel's NHWC kernel at FP16), 1x1 (cuBLASLt at FP16 NHWC). */
    enum Form { DENSE_3X3, DEPTHWISE, ONE_BY_ONE }

    static Graph model(Form f, String act, Attributes attrs) {
        NetworkBuilder b = new NetworkBuilder("conv_act");
        int c = 16, k = f == Form.DEPTHWISE ? 16 : 24;
        Value x = b.input("x", DType.F32, 2, c, 10, 10);
        Attributes.Builder ca = Attributes.builder().put("kernel_shape", f == Form.ONE_BY_ONE ? new long[] {1, 1} : new long[] {3, 3});
        if (f != Form.ONE_BY_ONE) ca.put("pads", 1L, 1L, 1L, 1L);
        if (f == Form.DEPTHWISE) ca.put("group", (long) c);
        Value w = b.uniformWeights("w", -0.3f, 0.3f, k, f == Form.DEPTHWISE ? 1 : c, f == Form.ONE_BY_ONE ? 1 : 3, f == Form.ONE_BY_ONE ? 1 : 3);
        Value y = b.node("Conv", "conv", ca.build(), 1, x, w, b.uniformWeights("bias", -0.5f, 0.5f, k)).output();
        Node a = act.equals("Clip")
                ? b.node("Clip", "act", Attributes.empty(), 1, y, b.constant("lo", Tensor.scalar(DType.F32, -0.25)), b.constant("hi", Tensor.scalar(DType.F32, 0.75)))
                : b.node(act, "act", attrs, 1, y);
        b.output(a.output());
        return b.graph();
    }

    /** x [8, 64] · W [64, 96] + b, then the activation: the GEMM's group as the GPU pipeline fuses it, built by the rule and from the joint plan. */
    @Test void gemmsFusedWithActivationsMatchTheReference() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        if (GpuTestSupport.emulated()) return; // cuBLASLt runs on a GPU only
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(9);
        for (Object[] act : activations()) {
            String op = (String) act[0];
            if (!java.util.Set.of("Clip", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu").contains(op)) continue;
            NetworkBuilder b = new NetworkBuilder("gemm_act");
            Value x = b.input("x", DType.F32, 8, 64);
            Value y = b.node("Add", "bias", Attributes.empty(), 1, b.node("MatMul", "mm", Attributes.empty(), 1, x, b.uniformWeights("w", -0.3f, 0.3f, 64, 96)).output(),
                    b.uniformWeights("b", -0.5f, 0.5f, 96)).output();
            Node a = op.equals("Clip")
                    ? b.node("Clip", "act", Attributes.empty(), 1, y, b.constant("lo", Tensor.scalar(DType.F32, -0.25)), b.constant("hi", Tensor.scalar(DType.F32, 0.75)))
                    : b.node(op, "act", (Attributes) act[1], 1, y);
            b.output(a.output());
            Graph g = b.graph();
            Map<String, Tensor> inputs = new LinkedHashMap<>();
            inputs.put("x", GpuTestSupport.random(r, DType.F32, g.inputs().get(0).type().shape(), -2, 2));
            Tensor ref = GpuTestSupport.reference(g, inputs).values().iterator().next();
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16)) {
                String what = "MatMul + bias + " + op + " " + p + " rule";
                checks.check(what, () -> {
                    Graph opt = g.copy();
                    new PassManager().run(opt, StandardPipelines.resolve(GpuEngine.pipeline(p, opt)));
                    try (GpuEngine e = GpuEngine.build(opt, p, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                        System.out.println(what + ": " + e.layerPlans().stream().map(l -> l.node() + " " + l.tactic()).toList());
                        GpuTestSupport.assertClose(what, GpuTestSupport.asF32(c.run(inputs).values().iterator().next()), ref, GpuTestSupport.tolerance(p.storage()));
                    }
                });
            }
            // a forced choice names a node's own choices, and the MatMul alone has none on cublaslt.gemm.bias (a fused
            // tactic): the joint plan is checked as the search leaves it (the rule engines above take the variant)
            String what = "MatMul + bias + " + op + " FP16 joint plan";
            checks.check(what, () -> {
                SearchOptions o = SearchOptions.defaults().withTarget("h100").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16))
                        .withPrecisionRules(List.of(org.tessel.search.PrecisionRule.parse("*=fp16")));
                SearchProblem problem = Searcher.problem(Searcher.prepare(g.copy()), o);
                PlanApplier.Applied ap = EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
                try (GpuEngine e = GpuEngine.build(ap.graph(), ap.plan(), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
                    System.out.println(what + ": " + e.layerPlans().stream().map(l -> l.node() + " " + l.tactic()).toList());
                    GpuTestSupport.assertClose(what, GpuTestSupport.asF32(c.run(inputs).values().iterator().next()), ref, GpuTestSupport.tolerance(DType.F16));
                }
            });
        }
        checks.done();
    }

    @Test void fusedActivationsMatchTheReference() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        boolean emulated = GpuTestSupport.emulated();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(5);
        for (Form f : Form.values()) {
            if (emulated && f != Form.DEPTHWISE) continue;
            for (Object[] act : activations()) {
                String op = (String) act[0];
                Graph g = model(f, op, (Attributes) act[1]);
                String label = f.name().toLowerCase(java.util.Locale.ROOT) + " conv + " + op + (act[1] != null && ((Attributes) act[1]).has("approximate") ? " (tanh)" : "");
                Map<String, Tensor> inputs = new LinkedHashMap<>();
                inputs.put("x", GpuTestSupport.random(r, DType.F32, g.inputs().get(0).type().shape(), -2, 2));
                Tensor ref = GpuTestSupport.reference(g, inputs).values().iterator().next();
                // the rule lays these small tensors out NCHW, where the depthwise convolution is cuDNN's: not on the emulated device
                List<GpuEngine.Precision> precisions = emulated ? List.of() : f == Form.DENSE_3X3 ? List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16) : List.of(GpuEngine.Precision.FP16);
                for (GpuEngine.Precision p : precisions) {
                    String what = label + " " + p + " rule";
                    checks.check(what, () -> {
                        Graph opt = g.copy();
                        new PassManager().run(opt, StandardPipelines.resolve(GpuEngine.pipeline(p, opt)));
                        try (GpuEngine e = GpuEngine.build(opt, p, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                            if (f != Form.ONE_BY_ONE) // the rule takes cuDNN's fused call for a 1x1 convolution; the plan below takes cuBLASLt
                                assertTrue(e.layerPlans().stream().anyMatch(l -> l.node().startsWith("conv+")) && e.layerPlans().stream().noneMatch(l -> l.node().equals("act")),
                                        "the convolution and its " + op + " are one layer: " + e.layerPlans());
                            GpuTestSupport.assertClose(what, GpuTestSupport.asF32(c.run(inputs).values().iterator().next()), ref, GpuTestSupport.tolerance(p.storage()));
                        }
                    });
                }
                String what = label + " FP16 greedy plan";
                checks.check(what, () -> {
                    Precision p = Precision.FP16;
                    SearchOptions o = SearchOptions.defaults().withTarget("h100").withPrecisions(EnumSet.of(Precision.FP32, p))
                            .withPrecisionRules(List.of(org.tessel.search.PrecisionRule.parse("*=fp16")));
                    SearchProblem problem = Searcher.problem(Searcher.prepare(g.copy()), o);
                    PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "greedy", o));
                    try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
                        System.out.println(what + ": " + e.layerPlans().stream().map(l -> l.node() + " " + l.tactic()).toList());
                        assertTrue(e.layerPlans().stream().anyMatch(l -> l.node().startsWith("conv+")) && e.layerPlans().stream().noneMatch(l -> l.node().equals("act")),
                                "greedy fuses the convolution and its " + op + ": " + e.layerPlans());
                        GpuTestSupport.assertClose(what, GpuTestSupport.asF32(c.run(inputs).values().iterator().next()), ref, GpuTestSupport.tolerance(DType.F16));
                    }
                });
            }
        }
        checks.done();
    }
}

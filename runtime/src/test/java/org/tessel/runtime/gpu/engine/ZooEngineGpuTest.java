package org.tessel.runtime.gpu.engine;

import static org.tessel.runtime.gpu.GpuTestSupport.assertClose;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.zoo.Zoo;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * Whole zoo models as GPU engines against the reference interpreter on the UNOPTIMIZED graph: the
 * standard pipeline, the engine's kernel choices, its memory plan and the CUDA-graph replay all sit
 * between the two. The logits (the classifier Gemm, added as a second output) are compared as well
 * as the softmax, since softmax of random-weight logits can hide errors (ResNet-50's saturates to
 * 0/1). FP32 within 1e-3 relative L2, TF32 and FP16 within 1e-2 (see {@link #tolerance}); eager
 * enqueue and graph replay both checked.
 */
@Tag("gpu")
class ZooEngineGpuTest {
    /** The model with its last Gemm's output (the logits) added as a graph output. */
    static Graph withLogits(String model) {
        Graph g = Zoo.build(model);
        Value logits = null;
        for (Node n : g.nodes()) if (n.opName().equals("Gemm")) logits = n.output();
        if (logits == null) throw new AssertionError(model + " has no Gemm classifier");
        if (!g.outputs().contains(logits)) g.addOutput(logits);
        return g;
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet50", "mobilenetv2", "googlenet", "googlenet-tiny"})
    void engineMatchesTheReference(String model) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph reference = withLogits(model);
        SplittableRandom r = new SplittableRandom(7);
        Value in = reference.inputs().get(0);
        Tensor x = GpuTestSupport.random(r, DType.F32, in.type().shape(), -2, 2);
        long t0 = System.nanoTime();
        List<Tensor> ref = List.copyOf(GpuTestSupport.reference(reference, Map.of(in.name(), x)).values());
        System.out.printf("%s: reference interpreter %.1f s%n", model, (System.nanoTime() - t0) / 1e9);
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        // googlenet (new in the engine) is checked with the fixed rule only, to keep the device run short
        // -Dtessel.test.tuned=false: the fixed rule only (a shorter device run)
        boolean[] tunings = model.startsWith("googlenet") || "false".equals(System.getProperty("tessel.test.tuned")) ? new boolean[] {false} : new boolean[] {false, true};
        for (GpuEngine.Precision p : GpuEngine.Precision.FLOATING) {
            // each precision's own pipeline: FP32/TF32 engines stay NCHW where the graph has no depthwise convolutions
            Graph optimized = reference.copy();
            new PassManager().run(optimized, GpuEngine.pipeline(p, optimized));
            for (boolean tuned : tunings) {
                double tol = tolerance(p);
                String what = model + " " + p + (tuned ? " tuned" : "");
                GpuEngine.Options options = tuned ? GpuEngine.Options.tuned(null) : GpuEngine.Options.FIXED;
                try (GpuEngine e = GpuEngine.build(optimized, p, ctx, options); GpuExecutionContext c = e.createExecutionContext()) {
                    System.out.printf("%s: %d layers (%s), arena %.2f MiB, workspace %.1f MiB, weights %.1f MiB, conv tactics %s%n", what, e.layerPlans().size(), e.layerPlans().isEmpty() ? "-" : e.layerPlans().get(0).layout(),
                            e.arenaBytes() / 1048576.0, e.workspaceBytes() / 1048576.0, e.weightBytes() / 1048576.0, convTactics(e));
                    List<Tensor> eager = c.run(List.of(x));
                    compare(checks, what + " eager", eager, ref, optimized, tol);
                    c.captureGraph();
                    List<Tensor> replay = c.run(List.of(x));
                    compare(checks, what + " graph", replay, ref, optimized, tol);
                }
            }
        }
        checks.done();
    }

    /**
     * Transformers: BERT (i64 token ids and a mask with zeros; outputs last_hidden_state and the
     * pooler) and ViT (softmax and the head's logits) against the reference interpreter on the
     * unoptimized graph, every precision, eager and CUDA-graph replay.
     */
    @ParameterizedTest
    @ValueSource(strings = {"bert-tiny:1:0:0", "bert-base:1:128:1", "vit-tiny:1:0:0"})
    void transformerEngineMatchesTheReference(String config) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        String[] f = config.split(":");
        String model = f[0];
        org.tessel.ir.zoo.ZooOptions o = org.tessel.ir.zoo.ZooOptions.defaults().withBatch(Integer.parseInt(f[1]));
        if (!f[2].equals("0")) o = o.withSequenceLength(Integer.parseInt(f[2]));
        if (!f[3].equals("0")) o = o.withLayers(Integer.parseInt(f[3]));
        Graph reference = Zoo.build(model, o);
        if (model.startsWith("vit")) {
            Value logits = null;
            for (Node n : reference.nodes()) if (n.opName().equals("Gemm")) logits = n.output();
            if (logits != null && !reference.outputs().contains(logits)) reference.addOutput(logits);
        }
        Graph optimized = reference.copy();
        new PassManager().run(optimized, StandardPipelines.STANDARD);
        List<Tensor> inputs = GpuEngineBench.inputs(reference, new SplittableRandom(7), -2, 2);
        Map<String, Tensor> named = new java.util.LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) named.put(reference.inputs().get(i).name(), inputs.get(i));
        long t0 = System.nanoTime();
        List<Tensor> ref = List.copyOf(GpuTestSupport.reference(reference, named).values());
        System.out.printf("%s: reference interpreter %.1f s%n", config, (System.nanoTime() - t0) / 1e9);
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (GpuEngine.Precision p : GpuEngine.Precision.FLOATING) {
            double tol = tolerance(p);
            String what = config + " " + p;
            checks.check(what + " build", () -> {
                try (GpuEngine e = GpuEngine.build(optimized, p, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                    System.out.printf("%s: %d layers, arena %.2f MiB, weights %.1f MiB, tactics %s%n", what, e.layerPlans().size(),
                            e.arenaBytes() / 1048576.0, e.weightBytes() / 1048576.0, tactics(e));
                    compare(checks, what + " eager", c.run(inputs), ref, optimized, tol);
                    c.captureGraph();
                    compare(checks, what + " graph", c.run(inputs), ref, optimized, tol);
                }
            });
        }
        checks.done();
    }

    static Map<String, Long> tactics(GpuEngine e) {
        return e.layerPlans().stream().map(l -> l.tactic())
                .collect(java.util.stream.Collectors.groupingBy(t -> t, java.util.TreeMap::new, java.util.stream.Collectors.counting()));
    }

    /** How many layers run each convolution tactic. */
    static Map<String, Long> convTactics(GpuEngine e) {
        return e.layerPlans().stream().map(l -> l.tactic()).filter(t -> t.contains("conv"))
                .collect(java.util.stream.Collectors.groupingBy(t -> t, java.util.TreeMap::new, java.util.stream.Collectors.counting()));
    }

    /**
     * FP32 1e-3 and FP16 1e-2 relative L2. TF32 keeps 10 mantissa bits, as f16 does, so it gets
     * f16's 1e-2: MobileNetV2 in TF32 measured 6.8e-3 on the softmax output on an H200. BF16 keeps 7 (8x f16's
     * rounding): 8e-2. On an H100 (2026-12-05) MobileNetV2's BF16 softmax output measured 4.7e-2 (its logits 3.2e-2, the
     * softmax amplifying) and light_resnet50's unnormalized %r174 (values near 1e19) 5.9e-2; the CPU engine's emulation of
     * MobileNetV2's BF16 plan gives 3.7e-2 on another input, so the error is BF16's, not a kernel's.
     */
    static double tolerance(GpuEngine.Precision p) {
        return switch (p) {
            case FP32 -> 1e-3;
            case TF32, FP16 -> 1e-2;
            case BF16 -> 8e-2;
            case INT8, FP8 -> 1e-1;
        };
    }

    private static void compare(GpuTestSupport.Checks checks, String what, List<Tensor> got, List<Tensor> ref, Graph g, double tol) {
        for (int i = 0; i < got.size(); i++) {
            String name = "engine " + what + " %" + g.outputs().get(i).name();
            Tensor gi = got.get(i), ri = ref.get(i);
            checks.check(name, () -> assertClose(name, gi, ri, tol));
        }
    }
}

package org.tessel.runtime.gpu.engine;

import static org.tessel.runtime.gpu.GpuTestSupport.assertClose;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.PassManager;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * The real CNNs of ../shared/models (found through {@code tessel.shared}; skipped, saying so, when
 * absent) as GPU engines, on their test_data_set_0 input: each precision's engine (its own pipeline,
 * {@link GpuEngine#pipeline}) against the reference interpreter on the UNOPTIMIZED imported graph, eager and
 * CUDA-graph replay, and the FP32 engine also against the data set's onnxruntime outputs. A Softmax
 * output's input (the logits) is added as an output, as in {@link ZooEngineGpuTest}. Tolerances as there.
 */
@Tag("gpu")
class SharedModelsGpuTest {
    @ParameterizedTest
    @ValueSource(strings = {"light_resnet50", "light_inception_v1", "light_squeezenet", "squeezenet1_1_dynamo", "mobilenet_v2_ts", "bert_tiny_dynamo"})
    void engineMatchesTheReference(String model) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph reference = CnnModels.importShared(model);
        List<Tensor> inputs = CnnModels.dataSet(model, "input_");
        List<Tensor> expected = CnnModels.dataSet(model, "output_");
        int given = reference.outputs().size();
        for (Value o : List.copyOf(reference.outputs())) {
            Node p = o.producer();
            if (p != null && p.opName().equals("Softmax") && !reference.outputs().contains(p.input(0))) reference.addOutput(p.input(0));
        }
        Map<String, Tensor> feed = new LinkedHashMap<>();
        for (int i = 0; i < reference.inputs().size(); i++) feed.put(reference.inputs().get(i).name(), inputs.get(i));
        long t0 = System.nanoTime();
        // the largest activation and the output magnitude decide whether f16 can represent this model at all
        double[] maxAct = {0};
        String[] maxAt = {"-"};
        List<Tensor> ref = new ArrayList<>(new org.tessel.ir.ReferenceInterpreter().withListener((node, outs, nanos) -> {
            for (Tensor t : outs) {
                if (!t.dtype().isFloating()) continue;
                for (int i = 0; i < t.size(); i++) {
                    double v = Math.abs(t.getDouble(i));
                    if (v > maxAct[0]) { maxAct[0] = v; maxAt[0] = node.name(); }
                }
            }
        }).run(reference, feed).values());
        double maxOut = 0;
        for (int i = 0; i < given; i++) for (int j = 0; j < ref.get(i).size(); j++) maxOut = Math.max(maxOut, Math.abs(ref.get(i).getDouble(j)));
        String f16Range = maxAct[0] > F16_MAX ? String.format("an activation reaches %.3g (node '%s'), beyond f16's largest value %.0f", maxAct[0], maxAt[0], F16_MAX)
                : maxOut < F16_MIN_NORMAL ? String.format("the outputs are at most %.3g, below f16's smallest normal value %.3g", maxOut, F16_MIN_NORMAL) : null;
        System.out.printf("%s: reference interpreter %.1f s%n", model, (System.nanoTime() - t0) / 1e9);
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (int i = 0; i < Math.min(given, expected.size()); i++) {
            String name = "engine " + model + " reference-vs-onnxruntime %" + reference.outputs().get(i).name();
            Tensor a = ref.get(i), b = expected.get(i);
            checks.check(name, () -> assertClose(name, a, b, 1e-3));
        }
        for (GpuEngine.Precision p : GpuEngine.Precision.FLOATING) {
            if (p == GpuEngine.Precision.FP16 && f16Range != null) {
                // these models' synthetic weights (ConstantOfShape fills, random init) leave f16's range: no f16 engine can match
                System.out.println("RESULT|engine " + model + " FP16|-|-|-|-|-|skip: " + f16Range);
                continue;
            }
            Graph optimized = reference.copy();
            new PassManager().run(optimized, GpuEngine.pipeline(p, optimized));
            double tol = ZooEngineGpuTest.tolerance(p);
            String what = model + " " + p;
            try (GpuEngine e = GpuEngine.build(optimized, p, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                System.out.printf("%s: %d layers, arena %.2f MiB, tactics %s%n", what, e.layerPlans().size(), e.arenaBytes() / 1048576.0, tactics(e));
                List<Tensor> eager = c.run(inputs);
                compare(checks, what + " eager", eager, ref, optimized, tol);
                if (p == GpuEngine.Precision.FP32)
                    for (int i = 0; i < Math.min(given, expected.size()); i++) {
                        String name = "engine " + what + " vs onnxruntime %" + optimized.outputs().get(i).name();
                        Tensor gi = eager.get(i), ei = expected.get(i);
                        checks.check(name, () -> assertClose(name, gi, ei, 1e-3));
                    }
                c.captureGraph();
                List<Tensor> replay = c.run(inputs);
                compare(checks, what + " graph", replay, ref, optimized, tol);
            } catch (RuntimeException ex) {
                checks.check("engine " + what + " build", () -> { throw ex; });
            }
        }
        checks.done();
    }

    static final double F16_MAX = 65504, F16_MIN_NORMAL = 6.103515625e-5;

    static Map<String, Long> tactics(GpuEngine e) {
        return e.layerPlans().stream().map(l -> l.tactic().replaceAll("/.*", "") + "@" + l.layout())
                .collect(java.util.stream.Collectors.groupingBy(t -> t, java.util.TreeMap::new, java.util.stream.Collectors.counting()));
    }

    private static void compare(GpuTestSupport.Checks checks, String what, List<Tensor> got, List<Tensor> ref, Graph g, double tol) {
        for (int i = 0; i < got.size(); i++) {
            String name = "engine " + what + " %" + g.outputs().get(i).name();
            Tensor gi = got.get(i), ri = ref.get(i);
            checks.check(name, () -> assertClose(name, gi, ri, tol));
        }
    }
}

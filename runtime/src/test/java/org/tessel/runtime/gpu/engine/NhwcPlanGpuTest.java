package org.tessel.runtime.gpu.engine;

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
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.search.EnginePlans;
import org.tessel.search.ForcedChoice;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;

/**
 * Plans that lay Tessel's own kernels out NHWC, at FP32 and FP16 and mixed (a cast on the way): a standalone Relu, a
 * MaxPool, a Concat and a Split in NHWC after the input's reformat, and a Relu that is a graph output and also read
 * inside (by the MaxPool), each against the reference interpreter. Two bugs hid here, both found behind GoogLeNet's
 * "halves" plans (FP16 first, FP32 after, NHWC throughout: relative L2 0.19 on the H100): a standalone elementwise node
 * in NHWC stored its result in logical order (its kernel body re-inferred the output type without its layout), and a
 * graph output read inside was read by its NHWC readers in its NCHW copy (the layout pass rewired every use).
 * Runs on the emulated device too (no cuDNN or cuBLAS needed).
 */
@Tag("gpu")
class NhwcPlanGpuTest {
    /** x -> Relu -> [MaxPool, Sigmoid] -> Concat -> Split -> [Tanh, Relu] -> Concat; the Relu also a graph output. */
    static Graph model() {
        NetworkBuilder b = new NetworkBuilder("nhwc_plan");
        Value x = b.input("x", DType.F32, 1, 24, 7, 7);
        Value r0 = b.node("Relu", "r0", Attributes.empty(), 1, x).output();
        Value p = b.node("MaxPool", "pool", Attributes.builder().put("kernel_shape", 3L, 3L).put("pads", 1L, 1L, 1L, 1L).put("strides", 1L, 1L).build(), 1, r0).output();
        Value r1 = b.node("Sigmoid", "r1", Attributes.empty(), 1, r0).output();
        Value cat = b.node("Concat", "cat", Attributes.builder().put("axis", 1L).build(), 1, p, r1).output();
        Node s = b.node("Split", "split", Attributes.builder().put("axis", 1L).build(), 2, cat, b.constant("sizes", Tensor.ofLongs(DType.I64, Shape.of(2), 16, 32)));
        Value a = b.node("Tanh", "a", Attributes.empty(), 1, s.output(0)).output();
        Value c = b.node("Relu", "c", Attributes.empty(), 1, s.output(1)).output();
        Value cat2 = b.node("Concat", "cat2", Attributes.builder().put("axis", 1L).build(), 1, c, a).output();
        b.output(r0);
        b.output(cat2);
        return b.graph();
    }

    @Test void tesselKernelsInNhwcMatchTheReference() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph ref = model();
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("x", GpuTestSupport.random(new SplittableRandom(3), DType.F32, ref.inputs().get(0).type().shape(), -2, 2));
        Map<String, Tensor> want = GpuTestSupport.reference(ref, in);
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (String first : List.of("fp32", "fp16")) for (String rest : List.of("fp32", "fp16")) {
            String what = "relu and pool at " + first + ", the rest at " + rest + ", all NHWC";
            checks.check(what, () -> {
                Graph prepared = Searcher.prepare(ref.copy());
                List<ForcedChoice> forced = new ArrayList<>();
                for (Node n : prepared.nodes()) {
                    String t = switch (n.opName()) { case "MaxPool" -> "tessel.pool.max"; case "Concat" -> "tessel.concat"; case "Split" -> "tessel.split"; default -> "tessel.eltwise"; };
                    forced.add(ForcedChoice.parse(n.name() + "=" + t + ":" + (n.name().equals("r0") || n.name().equals("pool") ? first : rest) + ":nhwc"));
                }
                SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16)).withForced(forced);
                SearchProblem problem = Searcher.problem(prepared, o);
                var ap = EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
                try (GpuEngine e = GpuEngine.build(ap.graph(), ap.plan(), GpuEngine.precisionFor(ap.plan(), ap.graph()), ctx, GpuEngine.Options.FIXED, 1);
                     GpuExecutionContext cx = e.createExecutionContext()) {
                    Map<String, Tensor> got = cx.run(in);
                    double tol = first.equals("fp16") || rest.equals("fp16") ? GpuTestSupport.tolerance(DType.F16) : 1e-5;
                    for (String name : want.keySet())
                        GpuTestSupport.assertClose(what + " output " + name, GpuTestSupport.asF32(got.get(name)), want.get(name), tol);
                }
            });
        }
        checks.done();
    }
}

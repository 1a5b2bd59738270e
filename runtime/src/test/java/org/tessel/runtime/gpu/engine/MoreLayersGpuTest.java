package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * {@code tessel.resize}, {@code tessel.reduce} and {@code tessel.batchnorm} on the GPU against the
 * reference interpreter: every case of {@link MoreLayersCases} (one graph, one output per case), with
 * the layout-sensitive nodes in NCHW and in NHWC, FP32 and FP16 engines, eager and CUDA-graph replay.
 * FP32: nearest resize and max reductions exact, the rest 1e-3 relative L2; FP16 1e-2.
 */
@Tag("gpu")
class MoreLayersGpuTest {
    @Test void moreLayersMatchTheReference() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        MoreLayersCases.Cases cases = MoreLayersCases.build();
        Graph reference = cases.graph();
        List<Tensor> in = MoreLayersCases.inputs(reference, 11);
        Map<String, Tensor> named = new LinkedHashMap<>();
        for (int i = 0; i < in.size(); i++) named.put(reference.inputs().get(i).name(), in.get(i));
        List<Tensor> ref = List.copyOf(GpuTestSupport.reference(reference, named).values());
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (Layout layout : new Layout[] {Layout.NCHW, Layout.NHWC}) {
            Graph g = MoreLayersCases.withLayout(reference, layout);
            for (GpuEngine.Precision p : new GpuEngine.Precision[] {GpuEngine.Precision.FP32, GpuEngine.Precision.FP16}) {
                String what = layout.text() + " " + p;
                checks.check(what + " build", () -> {
                    try (GpuEngine e = GpuEngine.build(g, p, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                        Map<String, Long> tactics = ZooEngineGpuTest.tactics(e);
                        System.out.println(what + ": " + e.layerPlans().size() + " layers, tactics " + tactics);
                        assertEquals(10L, tactics.get("tessel.resize"), "resize layers");
                        assertEquals(9L, tactics.get("tessel.reduce"), "reduce layers (mean_pool is tessel.pool.global)");
                        assertEquals(5L, tactics.get("tessel.batchnorm"), "batchnorm layers");
                        compare(checks, cases, what + " eager", c.run(in), ref, p);
                        c.captureGraph();
                        compare(checks, cases, what + " graph", c.run(in), ref, p);
                    }
                });
            }
        }
        checks.done();
    }

    private static void compare(GpuTestSupport.Checks checks, MoreLayersCases.Cases cases, String what, List<Tensor> got, List<Tensor> ref, GpuEngine.Precision p) {
        assertEquals(ref.size(), got.size(), what + " outputs");
        for (int i = 0; i < got.size(); i++) {
            MoreLayersCases.Out o = cases.outs().get(i);
            double tol = p == GpuEngine.Precision.FP16 ? 1e-2 : o.exact() ? 0 : 1e-3;
            String name = "more " + o.name() + " " + what;
            Tensor gi = GpuTestSupport.asF32(got.get(i)), ri = ref.get(i);
            checks.check(name, () -> GpuTestSupport.assertClose(name, gi, ri, tol));
        }
    }
}

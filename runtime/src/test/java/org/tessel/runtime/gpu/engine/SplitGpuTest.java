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
 * {@code tessel.split} on the GPU against the reference interpreter: the cases of {@link SplitLayerTest}
 * (channels, the last axis into five parts over two launches, the batch axis), with image tensors in NCHW
 * and NHWC, FP32 and FP16 engines, eager and CUDA-graph replay. A split copies, so FP32 results are exact
 * and FP16 ones equal the reference rounded to f16.
 */
@Tag("gpu")
class SplitGpuTest {
    @Test void splitsMatchTheReference() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph reference = SplitLayerTest.cases();
        List<Tensor> in = MoreLayersCases.inputs(reference, 13);
        Map<String, Tensor> named = new LinkedHashMap<>();
        for (int i = 0; i < in.size(); i++) named.put(reference.inputs().get(i).name(), in.get(i));
        List<Tensor> ref = List.copyOf(GpuTestSupport.reference(reference, named).values());
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (Layout layout : new Layout[] {Layout.NCHW, Layout.NHWC}) {
            Graph g = MoreLayersCases.withLayout(reference, layout);
            for (GpuEngine.Precision p : new GpuEngine.Precision[] {GpuEngine.Precision.FP32, GpuEngine.Precision.FP16}) {
                String what = layout.text() + " " + p;
                checks.check("split " + what + " build", () -> {
                    try (GpuEngine e = GpuEngine.build(g, p, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                        assertEquals(3L, ZooEngineGpuTest.tactics(e).get("tessel.split"), "split layers");
                        compare(checks, "split " + what + " eager", c.run(in), ref, p);
                        c.captureGraph();
                        compare(checks, "split " + what + " graph", c.run(in), ref, p);
                    }
                });
            }
        }
        checks.done();
    }

    private static void compare(GpuTestSupport.Checks checks, String what, List<Tensor> got, List<Tensor> ref, GpuEngine.Precision p) {
        assertEquals(ref.size(), got.size(), what + " outputs");
        for (int i = 0; i < got.size(); i++) {
            Tensor gi = GpuTestSupport.asF32(got.get(i)), ri = ref.get(i);
            String name = what + " output " + i;
            checks.check(name, () -> GpuTestSupport.assertClose(name, gi, ri, p == GpuEngine.Precision.FP16 ? 1e-3 : 0));
        }
    }
}

package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
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
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.tactics.plan.PlanApplier;

/**
 * A CNN's head as the search plans it: an NHWC convolution, a global average pool (NHWC, [N, C, 1, 1]), then Flatten,
 * which reads NCHW. Both layouts store a tensor of one pixel in the same order, so the reformat between the pool and
 * Flatten is a view: the memory plan puts its output on its input and the engine runs nothing for it
 * ({@code tessel.reformat.nchw_nhwc/view}), and the output still equals the reference.
 */
@Tag("gpu")
class ReformatViewGpuTest {
    @Test void aReformatOfOnePixelIsAView() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        NetworkBuilder b = new NetworkBuilder("head");
        Value x = b.input("x", DType.F32, 2, 32, 6, 6);
        Attributes a = Attributes.builder().put("kernel_shape", 3L, 3L).put("pads", 1L, 1L, 1L, 1L).build();
        Value y = b.node("Conv", "conv1", a, 1, x, b.uniformWeights("w1", -0.1f, 0.1f, 64, 32, 3, 3), b.uniformWeights("b1", -0.5f, 0.5f, 64)).output();
        Value p = b.node("GlobalAveragePool", "pool", Attributes.empty(), 1, y).output();
        b.output(b.node("Flatten", "flatten", Attributes.empty(), 1, p).output());
        Graph g = b.graph();
        SplittableRandom r = new SplittableRandom(2);
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        inputs.put("x", GpuTestSupport.random(r, DType.F32, g.inputs().get(0).type().shape(), -1, 1));
        Map<String, Tensor> ref = GpuTestSupport.reference(g, inputs);
        PlanApplier.Applied plan = Conv1x1GemmGpuTest.plan(g, Precision.FP16, "tessel.conv.mma");
        try (GpuEngine e = GpuEngine.build(plan.graph(), plan.plan(), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 1);
             GpuExecutionContext c = e.createExecutionContext()) {
            assertTrue(e.layerPlans().stream().anyMatch(l -> l.tactic().equals("tessel.reformat.nchw_nhwc/view")),
                    "the pool's [2, 64, 1, 1] reformatted for Flatten is a view: " + e.layerPlans().stream().map(l -> l.tactic()).toList());
            String out = g.outputs().get(0).name();
            GpuTestSupport.assertClose("conv, pool, view, flatten", GpuTestSupport.asF32(c.run(inputs).get(out)), ref.get(out), GpuTestSupport.tolerance(DType.F16));
        }
    }
}

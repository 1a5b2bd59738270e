package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * tessel.deconv.direct on the emulated device (a CPU test: kernel logic and launch arguments, never speed): every
 * ConvTranspose node case of ONNX (weights and bias bound as constants, as a model holds them) and synthetic ones
 * (groups, dilations, 1-D and 3-D, output_shape with SAME_LOWER, output padding) as GPU engines against ONNX's
 * expected outputs and the reference interpreter, FP32 and FP16.
 */
class DeconvEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    @Test void onnxNodeCasesMatchTheirExpectedOutputs() throws Exception {
        int checked = 0;
        for (Path d : OnnxNodeCase.folders(name -> name.startsWith("test_convtranspose"))) {
            OnnxNodeCase nc = OnnxNodeCase.load(d, (i, name) -> i > 0);
            Graph g = nc.graph();
            try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP32, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                assertEquals(List.of(GpuTactics.DECONV_DIRECT), e.layerPlans().stream().map(l -> l.tactic()).distinct().toList(), nc.name());
                GpuTestSupport.assertClose(nc.name() + " (emulated)", c.run(nc.inputs()).get(g.outputs().get(0).name()), nc.expected().get(0), 1e-5);
            }
            checked++;
        }
        assertTrue(checked >= 10, "ConvTranspose node cases found: " + checked);
    }

    @Test void groupsDilationsAndOneToThreeSpatialAxesMatchTheReference() {
        SplittableRandom r = new SplittableRandom(31);
        record Case(int[] x, int[] w, Attributes a) {}
        List<Case> cases = List.of(
                new Case(new int[] {2, 4, 5, 6}, new int[] {4, 3, 3, 3}, Attributes.builder().put("group", 2L).put("strides", new long[] {2, 2})
                        .put("dilations", new long[] {2, 1}).put("pads", new long[] {1, 0, 2, 1}).put("output_padding", new long[] {1, 1}).build()),
                new Case(new int[] {1, 3, 7}, new int[] {3, 2, 4}, Attributes.builder().put("strides", new long[] {3}).build()),
                new Case(new int[] {1, 2, 3, 4, 3}, new int[] {2, 2, 2, 3, 2}, Attributes.builder().put("strides", new long[] {2, 1, 2}).put("pads", new long[] {0, 1, 0, 1, 0, 1}).build()),
                new Case(new int[] {1, 6, 4, 4}, new int[] {6, 1, 3, 3}, Attributes.builder().put("group", 6L).put("strides", new long[] {2, 2})
                        .put("output_shape", new long[] {8, 9}).put("auto_pad", "SAME_LOWER").build()));
        for (int k = 0; k < cases.size(); k++) {
            Case cs = cases.get(k);
            NetworkBuilder b = new NetworkBuilder("deconv" + k);
            var x = b.input("x", DType.F32, cs.x());
            Tensor w = GpuTestSupport.random(r, DType.F32, cs.w());
            int m = cs.w()[1] * (int) cs.a().getInt("group", 1);
            Graph g = b.output(b.name("deconv").op("ConvTranspose", cs.a(), x, b.constant("w", w), b.constant("b", GpuTestSupport.random(r, DType.F32, m)))).build();
            Map<String, Tensor> in = Map.of("x", GpuTestSupport.random(r, DType.F32, cs.x()));
            Tensor want = GpuTestSupport.reference(g, in).get(g.outputs().get(0).name());
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16))
                try (GpuEngine e = GpuEngine.build(g, p, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                    GpuTestSupport.assertClose("deconv case " + k + " " + p + " (emulated)", c.run(in).get(g.outputs().get(0).name()), want, p == GpuEngine.Precision.FP32 ? 1e-5 : 1e-2);
                }
        }
    }
}

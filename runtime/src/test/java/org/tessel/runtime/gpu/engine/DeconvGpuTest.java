package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.api.Layout;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.tactics.conv.ConvTactics;

/**
 * {@code cudnn.deconv} (cuDNN's backward-data convolution as ConvTranspose) on a GPU, both algorithms: every ONNX
 * ConvTranspose node case the tactic takes (the catalogue's whyNot decides which) against ONNX's expected outputs, and
 * synthetic ones (groups, dilations, asymmetric pads within cuDNN's rule, output padding, 1-D, output_shape with
 * SAME_LOWER) against the reference interpreter at FP32, TF32 and FP16, the engine reporting the planned algorithm;
 * then a 3-D node and one whose pads cuDNN cannot express refused before any GPU work, naming the node.
 */
@Tag("gpu")
class DeconvGpuTest {
    static Node deconv(Graph g) { return g.nodes().stream().filter(n -> n.opName().equals("ConvTranspose")).findFirst().orElseThrow(); }

    @Test void onnxNodeCasesMatchTheirExpectedOutputs() throws Exception {
        CudaContext ctx = GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        int taken = 0;
        for (Path d : OnnxNodeCase.folders(name -> name.startsWith("test_convtranspose"))) {
            OnnxNodeCase nc = OnnxNodeCase.load(d, (i, name) -> i > 0);
            Graph g = nc.graph();
            Node n = deconv(g);
            String why = ConvTactics.DECONV_CUDNN.whyNot(n, Precision.FP32, Layout.NCHW);
            System.out.println("RESULT|cudnn.deconv " + nc.name() + "|" + (why == null ? "taken" : "not taken: " + why));
            if (why != null) continue;
            taken++;
            for (String variant : List.of("algo_0", "algo_1"))
                checks.check(nc.name() + " " + variant, () -> {
                    try (GpuEngine e = GpuEngine.buildForced(g, Map.of(n.name(), GpuTactics.DECONV_CUDNN + "/" + variant), GpuEngine.Precision.FP32, ctx, GpuEngine.Options.FIXED);
                         GpuExecutionContext c = e.createExecutionContext()) {
                        assertEquals(List.of(GpuTactics.DECONV_CUDNN + "/" + variant), e.layerPlans().stream().map(l -> l.tactic()).distinct().toList());
                        GpuTestSupport.assertClose(nc.name() + " " + variant, c.run(nc.inputs()).get(g.outputs().get(0).name()), nc.expected().get(0), 1e-5);
                    }
                });
        }
        checks.done();
        assertTrue(taken >= 8, "ConvTranspose node cases cudnn.deconv takes: " + taken);
    }

    record Case(int[] x, int[] w, Attributes a) {}

    static Graph graph(Case cs, SplittableRandom r, int k) {
        NetworkBuilder b = new NetworkBuilder("deconv" + k);
        var x = b.input("x", DType.F32, cs.x());
        int m = cs.w()[1] * (int) cs.a().getInt("group", 1);
        return b.output(b.name("deconv").op("ConvTranspose", cs.a(), x, b.constant("w", GpuTestSupport.random(r, DType.F32, cs.w())),
                b.constant("b", GpuTestSupport.random(r, DType.F32, m)))).build();
    }

    @Test void groupsDilationsPadsAndOneOrTwoSpatialAxesMatchTheReference() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        SplittableRandom r = new SplittableRandom(32);
        List<Case> cases = List.of(
                // groups, strides, dilations, pads (begin 1/0, end 2/1) and output padding 1/1: 0 <= 1 + 1 - 2 < 2, 0 <= 1 + 0 - 1 < 2
                new Case(new int[] {2, 4, 5, 6}, new int[] {4, 3, 3, 3}, Attributes.builder().put("group", 2L).put("strides", new long[] {2, 2})
                        .put("dilations", new long[] {2, 1}).put("pads", new long[] {1, 0, 2, 1}).put("output_padding", new long[] {1, 1}).build()),
                new Case(new int[] {1, 3, 7}, new int[] {3, 2, 4}, Attributes.builder().put("strides", new long[] {3}).build()),
                new Case(new int[] {1, 6, 4, 4}, new int[] {6, 1, 3, 3}, Attributes.builder().put("group", 6L).put("strides", new long[] {2, 2})
                        .put("output_shape", new long[] {8, 8}).put("auto_pad", "SAME_LOWER").build()),
                // a U-Net up-sampling step: 2x2 stride 2, 64 -> 32 channels
                new Case(new int[] {2, 64, 16, 16}, new int[] {64, 32, 2, 2}, Attributes.builder().put("strides", new long[] {2, 2}).build()));
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (int k = 0; k < cases.size(); k++) {
            Graph g = graph(cases.get(k), r, k);
            assertEquals(null, ConvTactics.DECONV_CUDNN.whyNot(deconv(g), Precision.FP16, Layout.NCHW), "case " + k);
            Map<String, Tensor> in = Map.of("x", GpuTestSupport.random(r, DType.F32, cases.get(k).x()));
            Tensor want = GpuTestSupport.reference(g, in).get(g.outputs().get(0).name());
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.TF32, GpuEngine.Precision.FP16))
                for (String variant : List.of("algo_0", "algo_1")) {
                    String what = "deconv case " + k + " " + p + " " + variant;
                    checks.check(what, () -> {
                        try (GpuEngine e = GpuEngine.buildForced(g, Map.of("deconv", GpuTactics.DECONV_CUDNN + "/" + variant), p, ctx, GpuEngine.Options.FIXED);
                             GpuExecutionContext c = e.createExecutionContext()) {
                            GpuTestSupport.assertClose(what, c.run(in).get(g.outputs().get(0).name()), want, p == GpuEngine.Precision.FP32 ? 1e-5 : 1e-2);
                        }
                    });
                }
        }
        checks.done();
    }

    @Test void aThreeDimensionalNodeAndPadsCudnnCannotExpressAreRefusedNamingTheNode() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        SplittableRandom r = new SplittableRandom(33);
        Graph threeD = graph(new Case(new int[] {1, 2, 3, 4, 3}, new int[] {2, 2, 2, 3, 2}, Attributes.builder().put("strides", new long[] {2, 1, 2}).build()), r, 0);
        // begin 0, end 2 with stride 1: output_padding + begin - end = -2 < 0
        Graph pads = graph(new Case(new int[] {1, 2, 6, 6}, new int[] {2, 2, 3, 3}, Attributes.builder().put("pads", new long[] {0, 0, 2, 2}).build()), r, 1);
        for (Graph g : List.of(threeD, pads)) {
            GpuEngineException e = assertThrows(GpuEngineException.class,
                    () -> GpuEngine.buildForced(g, Map.of("deconv", GpuTactics.DECONV_CUDNN), GpuEngine.Precision.FP32, ctx, GpuEngine.Options.FIXED).close());
            assertTrue(e.getMessage().contains("'deconv'") && e.getMessage().contains("cudnn.deconv"), e.getMessage());
            System.out.println("RESULT|cudnn.deconv refusal|" + e.getMessage().replace('\n', ' '));
        }
    }
}

package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.Zoo;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.CudaDataType;
import org.tessel.runtime.gpu.kernels.Fp8Gemm;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * FP8 in the GPU builder without a GPU: checkPlan takes an FP8 GEMM (cuBLASLt e4m3 with Tessel's epilogue: bias, residual,
 * ReLU, GELU, Tanh) and FP8 NHWC convolutions of any kernel size (the same GEMM over pixels, on an im2col matrix unless 1x1)
 * that carry their scales, and names per node why it refuses one (no scale for a tensor, a tactic without FP8 kernels, a
 * grouped, NCHW or too large convolution, output channels not in sixteens); {@link GpuEngine#fp8WhyNot} says which nodes a GPU search must keep off FP8; and cuBLASLt's FP8
 * requirements (the "TN" form, multiples of 16, f16/bf16/f32 D, CUBLAS_COMPUTE_32F) are enforced before any library call.
 */
class Fp8PlanRefusalTest {
    private static PlanApplier.Applied bert() {
        Graph g = Zoo.build("bert-tiny");
        SearchOptions o = SearchOptions.defaults().withTarget("h100").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        return EnginePlans.complete(problem, Searcher.run(problem, "rule", o));
    }

    private static EnginePlan atFp8(EnginePlan plan, String... nodes) {
        java.util.Set<String> at = java.util.Set.of(nodes);
        List<PlannedNode> ns = new ArrayList<>();
        for (PlannedNode n : plan.nodes())
            ns.add(at.contains(n.node()) ? new PlannedNode(n.node(), n.op(), n.tacticId(), n.variant(), Precision.FP8, n.layout(), n.stream(), n.predictedUs()) : n);
        return plan.withNodes(ns);
    }

    /** A scale of 0.05 for every activation the FP8 nodes read or write, as a calibration would give. */
    private static EnginePlan withScales(PlanApplier.Applied a, EnginePlan p) {
        java.util.Map<String, Float> scales = new java.util.HashMap<>();
        for (Node n : a.graph().nodes())
            for (org.tessel.ir.Value v : org.tessel.tactics.plan.QuantizationTable.activations(n)) scales.put(v.name(), 0.05f);
        return p.withQuantization(org.tessel.tactics.plan.QuantizationTable.forPlanned(a.graph(), p, Precision.FP8, "minmax", scales));
    }

    private static String refusal(PlanApplier.Applied a, EnginePlan p) {
        return assertThrows(GpuEngineException.class, () -> GpuEngine.checkPlan(a.graph(), p, GpuEngine.Precision.FP16)).getMessage();
    }

    @Test void fp8GemmsWithScalesArePlannedAndOtherNodesAreRefusedNamingTheNodeAndWhy() {
        PlanApplier.Applied a = bert();
        GpuEngine.checkPlan(a.graph(), a.plan(), GpuEngine.Precision.FP16);
        String bias = null, gelu = null, other = null;
        for (PlannedNode p : a.plan().nodes()) {
            if (bias == null && p.tacticId().equals("cublaslt.gemm.bias")) bias = p.node();
            if (gelu == null && p.tacticId().startsWith("cublaslt.gemm.bias_gelu")) gelu = p.node();
            if (other == null && p.tacticId().equals("tessel.layernorm")) other = p.node();
        }
        assertTrue(bias != null && gelu != null && other != null, a.plan().nodes().toString());
        // without scales: refused, naming the node and the tensor
        String e = refusal(a, atFp8(a.plan(), bias));
        assertTrue(e.contains("'" + bias + "'") && e.contains("at fp8 and has no scale for its tensor %"), e);
        // with scales: the bias GEMM and the GELU GEMM (Tessel's FP8 epilogue applies the GELU) are taken
        EnginePlan both = atFp8(a.plan(), bias, gelu);
        GpuEngine.checkPlan(a.graph(), withScales(a, both), GpuEngine.Precision.FP16);
        assertEquals(GpuEngine.Precision.FP16, GpuEngine.precisionFor(withScales(a, both), a.graph()), "FP8 nodes do not decide the engine's I/O precision");
        // a tactic without an FP8 kernel: refused even with scales
        e = refusal(a, withScales(a, atFp8(a.plan(), other)));
        assertTrue(e.contains("'" + other + "'") && e.contains("tessel.layernorm has no FP8 kernel on the GPU"), e);
        // what a GPU search keeps off FP8: the LayerNorm, not the GEMMs
        java.util.Map<String, Node> byName = new java.util.HashMap<>();
        for (Node n : a.graph().nodes()) byName.put(n.name(), n);
        assertNull(GpuEngine.fp8WhyNot(byName.get(bias)));
        assertNull(GpuEngine.fp8WhyNot(byName.get(gelu)));
        assertTrue(GpuEngine.fp8WhyNot(byName.get(other)).contains("tessel.layernorm has no FP8 kernel on the GPU"), GpuEngine.fp8WhyNot(byName.get(other)));
        assertNull(new GemmLayers().fp8WhyNot(byName.get(bias), "cublaslt.gemm.bias"));
    }

    /** x [2, 32, 8, 8] -> 1x1 conv 32->64 + ReLU -> 3x3 conv 64->64 + ReLU -> 1x1 conv 64->32 + x + ReLU (M = 2 x 8 x 8 = 128 pixels). */
    static Graph bottleneck() {
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("bottleneck");
        org.tessel.ir.Value x = b.input("x", DType.F32, 2, 32, 8, 8);
        org.tessel.ir.Value y = b.relu(b.conv(x, b.uniformWeights("w1", -0.2f, 0.2f, 64, 32, 1, 1), b.uniformWeights("b1", -0.1f, 0.1f, 64), 1, 0));
        y = b.relu(b.conv(y, b.uniformWeights("w2", -0.1f, 0.1f, 64, 64, 3, 3), b.uniformWeights("b2", -0.1f, 0.1f, 64), 1, 1));
        y = b.relu(b.add(b.conv(y, b.uniformWeights("w3", -0.2f, 0.2f, 32, 64, 1, 1), b.uniformWeights("b3", -0.1f, 0.1f, 32), 1, 0), x));
        return b.output(y).build();
    }

    /** The bottleneck planned by the joint search with the convolutions named by {@code fp8} forced to FP8 NHWC, and scales. */
    static PlanApplier.Applied bottleneckPlan(String... fp8) { return fp8Plan(bottleneck(), fp8); }

    /**
     * {@code g} planned by the joint search with the convolutions named by {@code fp8} held to FP8 (the search picks
     * {@code cublaslt.conv1x1} or {@code cublaslt.conv.im2col}, the tactics with an FP8 form, and NHWC, which both read),
     * and scales.
     */
    static PlanApplier.Applied fp8Plan(Graph g, String... fp8) {
        Graph prepared = Searcher.prepare(g);
        // those convolutions at FP8, the others off it, as a GPU build's rules keep them (BuildCommand.gpuFp8Rules)
        List<org.tessel.search.PrecisionRule> rules = new ArrayList<>();
        for (Node n : prepared.nodes())
            if (n.opName().equals("Conv"))
                rules.add(new org.tessel.search.PrecisionRule(n.name(), List.of(fp8).contains(n.name()) ? EnumSet.of(Precision.FP8) : EnumSet.of(Precision.FP32, Precision.FP16)));
        SearchOptions o = SearchOptions.defaults().withTarget("h200").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16, Precision.FP8)).withPrecisionRules(rules);
        SearchProblem problem = Searcher.problem(prepared, o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
        return new PlanApplier.Applied(a.graph(), withScales(a, a.plan()));
    }

    @Test void fp8ConvolutionsOfAnyKernelSizeArePlannedAndWhatTheGemmCannotTakeIsRefusedNamingWhy() {
        Graph prepared = Searcher.prepare(bottleneck());
        List<Node> convs = prepared.nodes().stream().filter(n -> n.opName().equals("Conv")).toList();
        assertEquals(3, convs.size(), prepared.nodes().toString());
        // a GPU search keeps none of them off FP8: the 1x1s are GEMMs as stored, the 3x3 runs on an im2col matrix
        for (Node c : convs) assertNull(GpuEngine.fp8WhyNot(c), c.describe());
        // all three at FP8 NHWC (the last with its residual): the builder takes the plan
        PlanApplier.Applied a = bottleneckPlan(convs.get(0).name(), convs.get(1).name(), convs.get(2).name());
        long atFp8 = a.plan().nodes().stream().filter(n -> n.precision() == Precision.FP8 && n.tacticId().startsWith("cublaslt.conv")).count();
        assertEquals(3, atFp8, a.plan().nodes().toString());
        // the 1x1s over 128 pixels and 32 or 64 channels are GEMMs over x as stored, the 3x3 gathers
        assertEquals(1, a.plan().nodes().stream().filter(n -> n.tacticId().equals(GpuTactics.CONV_IM2COL_GEMM)).count(), a.plan().nodes().toString());
        GpuEngine.checkPlan(a.graph(), a.plan(), GpuEngine.Precision.FP16);
        ConvLayers impl = new ConvLayers();
        for (Node n : a.graph().nodes())
            if (impl.computes(n))
                for (var p : a.plan().nodes())
                    if (p.node().equals(n.name()) && p.precision() == Precision.FP8) assertNull(impl.fp8WhyNot(n, p.tacticId()), n.describe());
        // shapes the GEMM takes through im2col: strides with asymmetric pads, a 7x7 stem over 3 channels, dilations, M not a multiple of 16
        assertNull(impl.fp8WhyNot(conv(nhwc(2, 20, 15, 15), 32, new int[] {3, 3}, new long[] {2, 2}, new long[] {1, 0, 0, 1}, new long[] {1, 1}, 1), GpuTactics.CONV_IM2COL_GEMM));
        assertNull(impl.fp8WhyNot(conv(nhwc(2, 3, 224, 224), 64, new int[] {7, 7}, new long[] {2, 2}, new long[] {3, 3, 3, 3}, new long[] {1, 1}, 1), GpuTactics.CONV_IM2COL_GEMM));
        assertNull(impl.fp8WhyNot(conv(nhwc(1, 16, 12, 12), 32, new int[] {3, 3}, new long[] {1, 1}, new long[] {2, 2, 2, 2}, new long[] {2, 2}, 1), GpuTactics.CONV_IM2COL_GEMM));
        assertNull(impl.fp8WhyNot(conv(nhwc(1, 24, 5, 5), 16, new int[] {1, 1}, new long[] {1, 1}, new long[] {0, 0, 0, 0}, new long[] {1, 1}, 1), GpuTactics.CONV_IM2COL_GEMM));
        // what it does not take, each in one sentence naming the sizes
        assertEquals("an FP8 convolution on the GPU has one group (got 2)",
                impl.fp8WhyNot(conv(nhwc(1, 32, 8, 8), 32, new int[] {3, 3}, new long[] {1, 1}, new long[] {1, 1, 1, 1}, new long[] {1, 1}, 2), GpuTactics.CONV_IM2COL_GEMM));
        assertEquals("an FP8 convolution on the GPU is NHWC (its pixels are the GEMM's rows), the plan lays it out nchw",
                impl.fp8WhyNot(conv(new org.tessel.api.TensorType(DType.F32, org.tessel.api.Shape.of(1, 32, 8, 8), org.tessel.api.Layout.NCHW), 32, new int[] {3, 3},
                        new long[] {1, 1}, new long[] {1, 1, 1, 1}, new long[] {1, 1}, 1), GpuTactics.CONV_IM2COL_GEMM));
        assertEquals("cuBLASLt's FP8 kernels need N (output channels) a multiple of 16 (got 24)",
                impl.fp8WhyNot(conv(nhwc(1, 32, 8, 8), 24, new int[] {3, 3}, new long[] {1, 1}, new long[] {1, 1, 1, 1}, new long[] {1, 1}, 1), GpuTactics.CONV_IM2COL_GEMM));
        // a batch is gathered in slices of images; one image's matrix is bounded
        assertNull(impl.fp8WhyNot(conv(nhwc(32, 256, 128, 128), 256, new int[] {3, 3}, new long[] {1, 1}, new long[] {1, 1, 1, 1}, new long[] {1, 1}, 1), GpuTactics.CONV_IM2COL_GEMM));
        assertEquals("cublaslt.conv.im2col's im2col matrix of one image [262144, 2304] of e4m3 codes takes 576 MiB of workspace, more than 256 MiB",
                impl.fp8WhyNot(conv(nhwc(1, 256, 512, 512), 256, new int[] {3, 3}, new long[] {1, 1}, new long[] {1, 1, 1, 1}, new long[] {1, 1}, 1), GpuTactics.CONV_IM2COL_GEMM));
        assertTrue(impl.fp8WhyNot(conv(nhwc(1, 32, 8, 8, 8), 32, new int[] {3, 3, 3}, new long[] {1, 1, 1}, new long[] {1, 1, 1, 1, 1, 1}, new long[] {1, 1, 1}, 1), GpuTactics.CONV_IM2COL_GEMM)
                .startsWith("a convolution over its pixels (a GEMM on x or on its im2col matrix) is 2-D (got input"));
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("computed");
        org.tessel.ir.Value x = b.input("x", nhwc(1, 32, 8, 8)), w = b.input("w", DType.F32, 32, 32, 3, 3);
        Node computed = b.node("Conv", "conv", org.tessel.api.Attributes.builder().put("pads", 1, 1, 1, 1).build(), 1, x, w);
        assertEquals("an FP8 convolution takes constant filters (%w is computed)", impl.fp8WhyNot(computed, GpuTactics.CONV_IM2COL_GEMM));
        assertEquals(GpuTactics.CONV_STEM + " has no FP8 kernel on the GPU (" + GpuTactics.CONV_1X1_GEMM + " and " + GpuTactics.CONV_IM2COL_GEMM + " have)",
                impl.fp8WhyNot(computed, GpuTactics.CONV_STEM));
        assertTrue(impl.fp8WhyNot(computed, GpuTactics.CONV_FUSED).startsWith(GpuTactics.CONV_FUSED + " has no FP8 kernel on the GPU"));
        // a 1x1 whose channels or pixels are not sixteens is the gather's: x as stored is not the e4m3 GEMM's operand
        assertTrue(impl.fp8WhyNot(conv(nhwc(1, 24, 5, 5), 16, new int[] {1, 1}, new long[] {1, 1}, new long[] {0, 0, 0, 0}, new long[] {1, 1}, 1), GpuTactics.CONV_1X1_GEMM)
                .startsWith(GpuTactics.CONV_1X1_GEMM + " at FP8 runs 1x1, stride-1, unpadded convolutions over input channels and pixels in multiples of 16"));
    }

    @Test void everyIm2colShapeOfTheGpuTestIsPlannedAtFp8AndTakenByTheBuilder() {
        for (Graph g : Fp8ConvGpuTest.im2colCases()) {
            String[] convs = Searcher.prepare(g).nodes().stream().filter(n -> n.opName().equals("Conv")).map(Node::name).toArray(String[]::new);
            PlanApplier.Applied a = fp8Plan(g, convs);
            long atFp8 = a.plan().nodes().stream().filter(n -> n.precision() == Precision.FP8 && n.tacticId().equals(GpuTactics.CONV_IM2COL_GEMM)).count();
            assertEquals(3, atFp8, g.name() + ": " + a.plan().nodes());
            GpuEngine.checkPlan(a.graph(), a.plan(), GpuEngine.Precision.FP16);
            // and the CPU engine, the GPU test's oracle, builds it too (the catalogue takes the FP8 convolutions)
            org.tessel.runtime.engine.Engine.buildCpu(a.graph(), a.plan());
        }
    }

    private static org.tessel.api.TensorType nhwc(int... dims) { return new org.tessel.api.TensorType(DType.F32, org.tessel.api.Shape.of(dims), org.tessel.api.Layout.NHWC); }

    /** A Conv over {@code x} (logical NCHW dims) with constant filters of {@code cout} x {@code kernel}, the given attributes, and a bias. */
    private static Node conv(org.tessel.api.TensorType x, int cout, int[] kernel, long[] strides, long[] pads, long[] dilations, int group) {
        int[] wd = new int[kernel.length + 2];
        wd[0] = cout;
        wd[1] = x.shape().dim(1) / group;
        System.arraycopy(kernel, 0, wd, 2, kernel.length);
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("conv");
        org.tessel.ir.Value in = b.input("x", x);
        org.tessel.api.Attributes at = org.tessel.api.Attributes.builder().put("strides", strides).put("pads", pads).put("dilations", dilations).put("group", (long) group).build();
        return b.node("Conv", "conv", at, 1, in, b.uniformWeights("w", -0.1f, 0.1f, wd), b.uniformWeights("b", -0.1f, 0.1f, cout));
    }

    @Test void aWholeEngineAtFp8WithoutAPlanIsRefused() {
        Graph g = Zoo.build("bert-tiny");
        var e = assertThrows(GpuEngineException.class, () -> GpuEngine.build(g, GpuEngine.Precision.FP8, null));
        assertTrue(e.getMessage().contains("cannot build a GPU engine at FP8 without a plan") && e.getMessage().contains("--fp8 --calib"), e.getMessage());
    }

    @Test void cublasLtFp8RequirementsAreCheckedBeforeAnyLibraryCall() {
        CudaDataType e4m3 = CudaDataType.R_8F_E4M3;
        assertEquals(28, e4m3.code());
        // the TN form FP8 takes, at multiples of 16: accepted
        new CublasLt.Problem(true, false, 64, 32, 128, 128, 128, 64, e4m3, CublasLt.ComputeType.C32F, CublasLt.Epilogue.BIAS, CudaDataType.R_16F);
        var nn = assertThrows(IllegalArgumentException.class, () -> new CublasLt.Problem(false, false, 64, 32, 128, 64, 128, 64, e4m3, CublasLt.ComputeType.C32F,
                CublasLt.Epilogue.DEFAULT, CudaDataType.R_16F));
        assertTrue(nn.getMessage().contains("\"TN\" format: A transposed, B not (got transA=false, transB=false)"), nn.getMessage());
        var odd = assertThrows(IllegalArgumentException.class, () -> new CublasLt.Problem(true, false, 64, 32, 120, 120, 120, 64, e4m3, CublasLt.ComputeType.C32F,
                CublasLt.Epilogue.DEFAULT, CudaDataType.R_16BF));
        assertTrue(odd.getMessage().contains("multiples of 16 (got m=64 n=32 k=120"), odd.getMessage());
        var f16compute = assertThrows(IllegalArgumentException.class, () -> new CublasLt.Problem(true, false, 64, 32, 128, 128, 128, 64, e4m3, CublasLt.ComputeType.C32F_FAST_16F,
                CublasLt.Epilogue.DEFAULT, CudaDataType.R_16F));
        assertTrue(f16compute.getMessage().contains("CUBLAS_COMPUTE_32F"), f16compute.getMessage());
        // Tessel's FP8 GEMM in row-major terms: y [M, N] = X [M, K] W [N, K]^T
        new Fp8Gemm.Spec(128, 512, 128, DType.F16, true);
        // any number of rows: they are cuBLASLt's n, no leading dimension (a pooler's one row, a decode step's few)
        new Fp8Gemm.Spec(1, 512, 128, DType.F16, true);
        new Fp8Gemm.Spec(5, 512, 128, DType.BF16, false);
        var k = assertThrows(IllegalArgumentException.class, () -> new Fp8Gemm.Spec(128, 512, 100, DType.F16, false));
        assertTrue(k.getMessage().startsWith("FP8 GEMM [128x100] x [100x512]: cuBLASLt's FP8 kernels need"), k.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Fp8Gemm.Spec(128, 512, 128, DType.I8, false));
        // host-side weights: per-tensor amax/448, the CPU engine's FP8 weights
        var w = org.tessel.api.Tensor.ofFloats(org.tessel.api.Shape.of(2, 2), 0.5f, -1.75f, 0.01f, 0f);
        Fp8Gemm.Weights q = Fp8Gemm.weights(w);
        assertEquals(1.75f / 448, q.scale());
        assertEquals(0x80 | 0x7E, q.codes()[1] & 0xFF, "-1.75 is -448 scale units");
        var fake = org.tessel.runtime.engine.PrecisionEmulation.fakeQuantizeWeight(w, 0, Precision.FP8);
        for (int i = 0; i < 4; i++) assertEquals(fake.getFloat(i), org.tessel.api.Float8E4M3.toFloat(q.codes()[i]) * q.scale(), "element " + i);
    }
}

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
 * ReLU, GELU, Tanh) that carries its scales, and names per node why it refuses one (no scale for a tensor, a tactic
 * without FP8 kernels); {@link GpuEngine#fp8WhyNot} says which nodes a GPU search must keep off FP8; and cuBLASLt's FP8
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

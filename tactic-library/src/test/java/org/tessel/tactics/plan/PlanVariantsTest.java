package org.tessel.tactics.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.ops.WeightQuantizer;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.gemm.GemmTactics;
import org.tessel.tactics.gemm.QuantizedMatMulTactic;

/**
 * A tactic that declares its variants ({@code tessel.gemv.weight_only}: its kernel's forms) has the plan check refuse a
 * variant it does not declare, naming the node, the tactic, the variant and the variants it has; the declared ones pass
 * (whether a form runs the node is the GPU builder's check), and so does any variant of a tactic that declares none.
 */
class PlanVariantsTest {
    /** One tessel.WeightOnlyMatMul "proj" of A [1, 256] by a 4-bit weight [256, 40] in groups of 128. */
    static Graph weightOnly() {
        var q = WeightQuantizer.quantize(new float[256 * 40], 256, 40, new WeightQuantizer.Format(4, 128, true), DType.F16);
        Graph g = new Graph("wo");
        Value a = g.addInput("a", TensorType.of(DType.F32, Shape.of(1, 256)));
        Node n = g.addNode(OpRegistry.global().get(QuantizedMatMulOps.WEIGHT_ONLY), "proj", List.of(a, g.addConstant("w", q.codes()), g.addConstant("s", q.scales())),
                Attributes.builder().put("bits", 4L).put("group_size", 128L).build(), 1);
        g.setOutputs(List.of(n.output()));
        return g;
    }

    static EnginePlan plan(String tactic, String variant) {
        return new EnginePlan("wo", "test", "h100", 0, List.of(), List.of(),
                List.of(new PlannedNode("proj", QuantizedMatMulOps.WEIGHT_ONLY, tactic, variant, Precision.FP16, Layout.ANY, 0, Double.NaN)), List.of(), Double.NaN, Double.NaN,
                QuantizationTable.EMPTY);
    }

    @Test void theWeightOnlyKernelsDeclareTheirFormsAndTheW8a8GemmNone() {
        assertEquals(List.of("plain", "staged", "mma"), GemmTactics.WEIGHT_ONLY_GEMV.planVariants());
        assertEquals(QuantizedMatMulTactic.GEMV_VARIANTS, TacticCatalog.global().byId("tessel.gemv.weight_only").planVariants());
        assertEquals(List.of("mma", "dequant", "tiled"), GemmTactics.WEIGHT_ONLY_GEMM.planVariants());
        assertEquals(List.of(), GemmTactics.W8A8_GEMM.planVariants());
        assertEquals(List.of(), GemmTactics.CUBLASLT_BIAS.planVariants());
    }

    @Test void aVariantTheTacticDoesNotDeclareIsRefusedNamingIt() {
        Graph g = weightOnly();
        for (String v : List.of("", "plain", "staged", "mma")) PlanCheck.check(plan("tessel.gemv.weight_only", v), g, TacticCatalog.global(), null);
        PlanException e = assertThrows(PlanException.class, () -> PlanCheck.check(plan("tessel.gemv.weight_only", "tiled"), g, TacticCatalog.global(), null));
        assertEquals("node 'proj' (tessel.WeightOnlyMatMul): tactic tessel.gemv.weight_only has no variant 'tiled' (its variants: plain, staged, mma)", e.getMessage());
        PlanException gemm = assertThrows(PlanException.class, () -> PlanCheck.check(plan("tessel.gemm.weight_only", "fast"), g, TacticCatalog.global(), null));
        assertEquals("node 'proj' (tessel.WeightOnlyMatMul): tactic tessel.gemm.weight_only has no variant 'fast' (its variants: mma, dequant, tiled)", gemm.getMessage());
        // a tactic that declares no variants leaves them to its builder
        Graph w8 = new Graph("w8");
        Value a = w8.addInput("a", TensorType.of(DType.F32, Shape.of(1, 64)));
        Node n = w8.addNode(OpRegistry.global().get(QuantizedMatMulOps.W8A8), "proj", List.of(a, w8.addConstant("w", org.tessel.api.Tensor.ofLongs(DType.I8, Shape.of(40, 64), new long[40 * 64])),
                w8.addConstant("ws", org.tessel.api.Tensor.ofFloats(DType.F32, Shape.of(40), new float[40])), w8.addConstant("sa", org.tessel.api.Tensor.ofFloats(DType.F32, Shape.of(1), new float[] {1}))),
                Attributes.empty(), 1);
        w8.setOutputs(List.of(n.output()));
        var w8plan = new EnginePlan("w8", "test", "h100", 0, List.of(), List.of(),
                List.of(new PlannedNode("proj", QuantizedMatMulOps.W8A8, "tessel.gemm.w8a8", "anything", Precision.FP16, Layout.ANY, 0, Double.NaN)), List.of(), Double.NaN, Double.NaN,
                QuantizationTable.EMPTY);
        PlanCheck.check(w8plan, w8, TacticCatalog.global(), null);
    }

    /**
     * The weight-only GEMM prices its forms apart: the tensor-core form only at FP16 (f16 activations) with K and the
     * group size multiples of 32, and cheaper there than the CUDA-core form on a prefill-sized A; a K of 48 with groups of
     * 16 leaves only the tiled form, and asking for mma there says why.
     */
    @Test void theWeightOnlyGemmPricesItsTensorCoreFormAtFp16Only() {
        var t = GemmTactics.WEIGHT_ONLY_GEMM;
        Graph g = weightOnly(512, 256, 128);
        Node n = g.nodes().getFirst();
        assertEquals(List.of("mma", "dequant", "tiled"), t.pricedVariants(n, Precision.FP16));
        assertEquals(List.of("dequant", "tiled"), t.pricedVariants(n, Precision.FP32));
        assertEquals(List.of("dequant", "tiled"), t.pricedVariants(n, Precision.BF16));
        var model = new org.tessel.cost.CostModel(org.tessel.cost.DeviceSpec.h100Sxm());
        double mma = t.cost(model, n, Precision.FP16, Layout.ANY, false, "mma").totalUs(), tiled = t.cost(model, n, Precision.FP16, Layout.ANY, false, "tiled").totalUs();
        org.junit.jupiter.api.Assertions.assertTrue(mma < tiled, "mma " + mma + " us against tiled " + tiled + " us");
        // the dequant form writes and reads the dequantized weight, then runs at cuBLASLt's rate: dearer than mma for a few
        // rows, cheaper for many; its workspace holds the f16 weight
        for (int[] c : new int[][] {{32, 0}, {4096, 1}}) {
            Node big = weightOnly(c[0], 2048, 128, 2048).nodes().getFirst();
            double m = t.cost(model, big, Precision.FP16, Layout.ANY, false, "mma").totalUs(), d = t.cost(model, big, Precision.FP16, Layout.ANY, false, "dequant").totalUs();
            org.junit.jupiter.api.Assertions.assertTrue(c[1] == 0 ? m < d : d < m, c[0] + " rows: mma " + m + " us, dequant " + d + " us");
            org.junit.jupiter.api.Assertions.assertTrue(t.cost(model, big, Precision.FP16, Layout.ANY, false, "dequant").workspaceBytes() >= 2L * 2048 * 2048);
        }
        Node odd = weightOnly(512, 48, 16).nodes().getFirst();
        assertEquals(List.of("dequant", "tiled"), t.pricedVariants(odd, Precision.FP16));
        assertEquals("the mma form of tessel.gemm.weight_only cannot run proj: its K slices of 32 lie in one group: K=48 and group size 16 must be multiples of 32",
                t.variantWhyNot(odd, "mma", Precision.FP16));
    }

    /** As {@link #weightOnly()}: A [m, k] by a 4-bit weight [k, 40] in groups of {@code group}. */
    static Graph weightOnly(int m, int k, int group) { return weightOnly(m, k, group, 40); }

    /** A [m, k] by a 4-bit weight [k, n] in groups of {@code group}. */
    static Graph weightOnly(int m, int k, int group, int n) {
        var q = WeightQuantizer.quantize(new float[k * n], k, n, new WeightQuantizer.Format(4, group, true), DType.F16);
        Graph g = new Graph("wo");
        Value a = g.addInput("a", TensorType.of(DType.F32, Shape.of(m, k)));
        Node node = g.addNode(OpRegistry.global().get(QuantizedMatMulOps.WEIGHT_ONLY), "proj", List.of(a, g.addConstant("w", q.codes()), g.addConstant("s", q.scales())),
                Attributes.builder().put("bits", 4L).put("group_size", (long) group).build(), 1);
        g.setOutputs(List.of(node.output()));
        return g;
    }
}

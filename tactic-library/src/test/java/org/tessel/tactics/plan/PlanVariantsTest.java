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

    @Test void theWeightOnlyGemvDeclaresItsFormsAndTheGemmsNone() {
        assertEquals(List.of("plain", "staged", "mma"), GemmTactics.WEIGHT_ONLY_GEMV.planVariants());
        assertEquals(QuantizedMatMulTactic.GEMV_VARIANTS, TacticCatalog.global().byId("tessel.gemv.weight_only").planVariants());
        assertEquals(List.of(), GemmTactics.WEIGHT_ONLY_GEMM.planVariants());
        assertEquals(List.of(), GemmTactics.CUBLASLT_BIAS.planVariants());
    }

    @Test void aVariantTheTacticDoesNotDeclareIsRefusedNamingIt() {
        Graph g = weightOnly();
        for (String v : List.of("", "plain", "staged", "mma")) PlanCheck.check(plan("tessel.gemv.weight_only", v), g, TacticCatalog.global(), null);
        PlanException e = assertThrows(PlanException.class, () -> PlanCheck.check(plan("tessel.gemv.weight_only", "tiled"), g, TacticCatalog.global(), null));
        assertEquals("node 'proj' (tessel.WeightOnlyMatMul): tactic tessel.gemv.weight_only has no variant 'tiled' (its variants: plain, staged, mma)", e.getMessage());
        // a tactic that declares no variants leaves them to its builder
        PlanCheck.check(plan("tessel.gemm.weight_only", "anything"), g, TacticCatalog.global(), null);
    }
}

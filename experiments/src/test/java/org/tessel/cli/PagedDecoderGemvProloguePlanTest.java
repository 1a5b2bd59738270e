package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.PagedDecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * A paged decode step planned as the GPU runner plans it ({@link DecoderModels#pagedPlanner}: the joint search at FP32
 * and p) folds each layer's SiLU(gate) * up into down_proj's GEMV: one eltwise_gemm group a layer on {@code tessel.gemv}
 * and no elementwise kernel left in a layer; and folds each RMSNorm into the GEMV after it (rmsnorm_gemm: the layers'
 * norms with the merged Q/K/V and gate/up projections, the final norm with lm_head): 7 kernels a layer where there were 10. Shown on llama-1b at FP16. (llama-tiny's
 * MLP width 172 is no multiple of the FP16 GEMV's 8-element chunks, so there the group runs only at FP32, and the search
 * weighs that FP32 island against the unfused FP16 MLP layer by layer: today it takes it in one of the two layers.)
 */
class PagedDecoderGemvProloguePlanTest {
    /** Plan nodes that launch a kernel: all but views. */
    static List<PlannedNode> kernels(PlanApplier.Applied a) {
        return a.plan().nodes().stream().filter(n -> !n.tacticId().equals("tessel.split.view") && !n.tacticId().equals("tessel.view")).toList();
    }

    static void check(String model, Precision p) {
        int layers = 2;
        Graph step = Zoo.buildPagedDecoder(model, Zoo.decoder(model, layers), new PagedDecoderShape(1, 1, 2, 4, 8), 7);
        PlanApplier.Applied a = DecoderModels.pagedPlanner("h200-measured", p).plan(step);
        List<FusedGroup> pro = a.plan().groups().stream().filter(g -> g.kind().equals("eltwise_gemm")).toList();
        assertEquals(layers, pro.size(), model + ": " + a.plan().groups());
        for (FusedGroup g : pro) assertEquals("tessel.gemv", a.plan().byName().get(g.name()).tacticId(), g.toString());
        assertEquals(List.of(), a.plan().nodes().stream().filter(n -> n.node().startsWith("model.layers.") && n.tacticId().startsWith("tessel.eltwise")).toList(), model);
        List<PlannedNode> layer0 = kernels(a).stream().filter(n -> n.node().startsWith("model.layers.0.")).toList();
        System.out.printf("RESULT|%s %s decode step: %d kernels in all, %d in layer 0: %s%n", model, p, kernels(a).size(), layer0.size(),
                layer0.stream().map(n -> n.op() + ":" + n.tacticId() + "@" + n.precision()).toList());
        // each layer's two norms run in the GEMVs after them (merged Q/K/V, merged gate/up), the final one in lm_head's
        List<FusedGroup> norms = a.plan().groups().stream().filter(g -> g.kind().equals("rmsnorm_gemm")).toList();
        assertEquals(2 * layers + 1, norms.size(), model + ": " + a.plan().groups());
        for (FusedGroup g : norms) assertEquals("tessel.gemv", a.plan().byName().get(g.name()).tacticId(), g.toString());
        assertEquals(List.of(), a.plan().nodes().stream().filter(n -> n.tacticId().equals("tessel.rmsnorm")).toList(), model);
        assertEquals(5, layer0.size(), layer0.toString());
    }

    @Test void llama1bFoldsEachLayersSiluMulAndNormsIntoTheProjections() { check("llama-1b", Precision.FP16); }
}

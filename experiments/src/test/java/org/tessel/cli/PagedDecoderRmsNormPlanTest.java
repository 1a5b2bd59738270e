package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.PagedDecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * A llama-tiny paged decode step, planned as the GPU runner plans it ({@link DecoderModels#pagedPlanner}: the joint
 * search at FP32 and FP16), has its five RMSNorms (two a layer and the final one) as RMSNormalization nodes, with no
 * ReduceMean or Sqrt left anywhere (fused bodies included); each runs in the GEMV after it (an rmsnorm_gemm group on
 * {@code tessel.gemv}: the layers' norms with their merged Q/K/V and gate/up projections, the final one with lm_head)
 * or, where the search leaves one alone, on {@code tessel.rmsnorm}.
 */
class PagedDecoderRmsNormPlanTest {
    private static void ops(Graph g, List<String> out) {
        for (Node n : g.nodes()) {
            out.add(n.opName());
            if (n.body() != null) ops(n.body(), out);
        }
    }

    @Test void theDecodeStepsNormsAreRmsNormalizationsOnTheGpuTactic() {
        Graph step = Zoo.buildPagedDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new PagedDecoderShape(1, 1, 2, 4, 8), 7);
        PlanApplier.Applied a = DecoderModels.pagedPlanner("h200-measured", Precision.FP16).plan(step);
        List<String> ops = new ArrayList<>();
        ops(a.graph(), ops);
        assertFalse(ops.contains("ReduceMean"), ops.toString());
        assertFalse(ops.contains("Sqrt"), ops.toString());
        assertEquals(2 * 2 + 1, ops.stream().filter(o -> o.equals("RMSNormalization")).count(), ops.toString());
        List<PlannedNode> norms = a.plan().nodes().stream().filter(n -> n.op().equals("RMSNormalization")).toList();
        for (PlannedNode n : norms) assertEquals("tessel.rmsnorm", n.tacticId(), n.toString());
        for (var g : a.plan().groups())
            if (g.kind().equals("rmsnorm_gemm")) assertEquals("tessel.gemv", a.plan().byName().get(g.name()).tacticId(), g.toString());
    }
}

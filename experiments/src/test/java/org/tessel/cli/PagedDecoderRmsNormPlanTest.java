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
 * search at FP32 and FP16), has its five RMSNorms (two a layer and the final one) as RMSNormalization nodes on
 * {@code tessel.rmsnorm}, one kernel each, with no ReduceMean or Sqrt left anywhere (fused bodies included).
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
        List<PlannedNode> norms = a.plan().nodes().stream().filter(n -> n.op().equals("RMSNormalization")).toList();
        assertEquals(2 * 2 + 1, norms.size(), a.plan().nodes().toString());
        for (PlannedNode n : norms) assertEquals("tessel.rmsnorm", n.tacticId(), n.toString());
    }
}

package org.tessel.cli;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.PagedDecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.runtime.llm.quant.LlmQuantization;
import org.tessel.runtime.llm.quant.QuantizationSpec;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

class PagedDecoderWeightOnlyPlanTest {
    static void show(String model, String weights) {
        int layers = 2;
        Graph step = Zoo.buildPagedDecoder(model, Zoo.decoder(model, layers), new PagedDecoderShape(1, 1, 2, 4, 8), 7);
        LlmQuantization.uncalibrated(QuantizationSpec.parse(weights, false, null)).apply(step);
        PlanApplier.Applied a = DecoderModels.pagedPlanner("h200-measured", Precision.FP16).plan(step);
        List<PlannedNode> ks = PagedDecoderGemvProloguePlanTest.kernels(a);
        List<PlannedNode> layer0 = ks.stream().filter(n -> n.node().startsWith("model.layers.0.")).toList();
        System.out.printf("RESULT|%s %s: %d kernels in all, %d in layer 0:%n", model, weights, ks.size(), layer0.size());
        for (PlannedNode n : layer0) System.out.println("RESULT|  " + n.node() + " " + n.op() + ":" + n.tacticId() + "@" + n.precision());
        System.out.println("RESULT| groups " + a.plan().groups());
        System.out.println("RESULT| merges " + a.plan().merges());
    }

    @Test void int4() { show("llama-1b", "int4:128"); }
    @Test void int8() { show("llama-1b", "int8"); }
}

package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * The rule strategy's plan, applied, is the graph the GPU builder's fixed pipeline made for the
 * same precision: node for node the same ops, fused kinds and layouts. So a GPU engine built
 * from the rule plan is the engine `tessel build` made before plans existed (the GPU run compares
 * the two engines' timings; here, without a GPU, the graphs). Group members no standalone kernel runs at
 * the engine's precision (ViT's and BERT's MatMuls, MobileNetV2's Clips) take the group's format as
 * in-group choices, so the rule fuses their groups as the fixed pipeline did.
 */
class RulePlanGraphTest {
    @ParameterizedTest
    @CsvSource({"resnet50-tiny,FP32", "resnet50-tiny,FP16", "resnet50-tiny,TF32", "mobilenetv2-tiny,FP32", "mobilenetv2-tiny,FP16",
            "googlenet-tiny,FP16", "googlenet-tiny,FP32", "bert-tiny,FP16", "bert-tiny,FP32", "vit-tiny,FP32", "vit-tiny,FP16"})
    void rulePlanGraphIsTheFixedPipelinesGraph(String model, String precision) {
        Graph g = Zoo.build(model, ZooOptions.defaults());
        Precision p = Precision.valueOf(precision);
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, p));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "rule", o));
        Graph fixed = g.copy();
        new PassManager().run(fixed, StandardPipelines.resolve(GpuEngine.pipeline(GpuEngine.Precision.valueOf(precision), fixed)));
        assertEquals(shape(fixed), shape(a.graph()), model + " " + precision);
        assertEquals(p, a.plan().nodes().stream().filter(n -> n.op().equals("tessel.Fused")).map(n -> n.precision()).findFirst().orElse(p));
    }

    private static List<String> shape(Graph g) {
        List<String> out = new ArrayList<>();
        for (Node n : g.nodes())
            out.add(n.name() + " " + n.opName() + (n.body() != null ? ":" + n.attrs().getString("kind", "") : "") + " " + n.output().type());
        return out;
    }
}

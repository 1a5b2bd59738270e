package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.tactics.plan.PlanApplier;

/**
 * The CPU half of {@link PlanEngineGpuTest}: every plan that GPU test builds passes the builder's checks before any
 * GPU work ({@link GpuEngine#checkPlan}): each node planned, at a precision the GPU builds where floating, with a tactic
 * whose implementation computes it. Pinned variants run at their precision; the forced half-and-half plan really mixes
 * FP16 and FP32, and its I/O precision is the one most floating nodes run at.
 */
class PlanMatrixTest {
    @ParameterizedTest
    @ValueSource(strings = {"resnet50-tiny", "mobilenetv2-tiny", "googlenet-tiny", "bert-tiny", "vit-tiny"})
    void thePlansTheGpuTestBuildsPassTheBuildersChecks(String model) {
        Graph reference = Zoo.build(model, ZooOptions.defaults());
        Map<String, String> built = new TreeMap<>();
        for (PlanEngineGpuTest.Variant v : PlanEngineGpuTest.Variant.values())
            for (String strategy : PlanEngineGpuTest.STRATEGIES) {
                if (!PlanEngineGpuTest.applies(strategy, v)) continue;
                PlanApplier.Applied a = PlanEngineGpuTest.plan(reference, strategy, v);
                GpuEngine.Precision io = GpuEngine.precisionFor(a.plan(), a.graph());
                GpuEngine.checkPlan(a.graph(), a.plan(), io);
                Map<Precision, Integer> mix = floatingMix(a);
                // the I/O precision is the most common one of the floating nodes
                int most = mix.values().stream().mapToInt(Integer::intValue).max().orElse(0);
                assertEquals(most, mix.getOrDefault(Precision.valueOf(io.name()), 0), model + " " + v + " " + strategy + ": I/O " + io + " of " + mix);
                if (strategy.equals("rule") && v == PlanEngineGpuTest.Variant.FP16) assertEquals(java.util.Set.of(Precision.FP16), mix.keySet(), "the rule runs everything at FP16");
                if (v == PlanEngineGpuTest.Variant.HALVES)
                    assertTrue(mix.containsKey(Precision.FP16) && mix.containsKey(Precision.FP32), model + " " + strategy + ": the forced half-and-half plan mixes " + mix);
                built.put(v.text() + "/" + strategy, mix.toString());
            }
        System.out.println(model + ": plans the GPU builds " + built);
    }

    /** Floating nodes of the planned graph per plan precision. */
    static Map<Precision, Integer> floatingMix(PlanApplier.Applied a) {
        Map<Precision, Integer> mix = new TreeMap<>();
        for (Node n : a.graph().nodes())
            if (!n.output().type().dtype().isInteger() && !(n.opName().equals("tessel.Reformat") && a.graph().inputs().contains(n.input(0))))
                mix.merge(a.plan().node(n.name()).precision(), 1, Integer::sum);
        return mix;
    }
}

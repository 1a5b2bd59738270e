package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.tactics.plan.PlanApplier;

/**
 * The CPU half of {@link PlanEngineGpuTest}: every plan that GPU test builds passes the builder's checks before any
 * GPU work ({@link GpuEngine#checkPlan}): each node planned, at the engine's one precision where floating, with a
 * tactic whose implementation computes it. The rule's plans are always buildable; the others where they keep one precision.
 */
class PlanMatrixTest {
    @ParameterizedTest
    @ValueSource(strings = {"resnet50-tiny", "mobilenetv2-tiny", "googlenet-tiny", "bert-tiny", "vit-tiny"})
    void thePlansTheGpuTestBuildsPassTheBuildersChecks(String model) {
        Graph reference = Zoo.build(model, ZooOptions.defaults());
        List<String> buildable = new ArrayList<>(), mixed = new ArrayList<>();
        for (Precision p : List.of(Precision.FP32, Precision.FP16))
            for (String strategy : List.of("rule", "joint", "sequential", "greedy")) {
                PlanApplier.Applied a = PlanEngineGpuTest.plan(reference, strategy, p);
                GpuEngine.Precision gp;
                try {
                    gp = GpuEngine.precisionFor(a.plan(), a.graph());
                } catch (GpuEngineException e) {
                    assertTrue(!strategy.equals("rule"), "the rule's plan keeps one precision: " + e.getMessage());
                    mixed.add(strategy + "/" + p.text());
                    continue;
                }
                // the rule runs everything at the precision it was given; a search may find one precision faster throughout
                if (strategy.equals("rule")) assertEquals(p.name(), gp.name(), model + " " + strategy + " " + p.text());
                GpuEngine.checkPlan(a.graph(), a.plan(), gp);
                buildable.add(strategy + "/" + p.text() + (gp.name().equals(p.name()) ? "" : " (all " + gp.name().toLowerCase(java.util.Locale.ROOT) + ")"));
            }
        System.out.println(model + ": buildable on the GPU " + buildable + ", mixed precision (CPU only so far) " + mixed);
        assertTrue(buildable.containsAll(List.of("rule/fp32", "rule/fp16", "joint/fp32")), buildable.toString());
    }
}

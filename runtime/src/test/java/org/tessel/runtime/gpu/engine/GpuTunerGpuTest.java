package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.runtime.gpu.GpuTestSupport.assertClose;

import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Tensor;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.tuning.TimingCache;
import org.tessel.search.CatalogCosting;
import org.tessel.search.EnginePlans;
import org.tessel.search.Plan;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.search.TunedCosting;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.PlanApplier;

/**
 * Measure, then solve, on the GPU: the joint search priced by {@link GpuTuner} (top 2 per node and format), its plan
 * built and checked against the reference; a second search with the same timing cache measures nothing new and
 * picks the same plan. Prints predicted (measured prices) vs measured engine latency.
 */
@Tag("gpu")
class GpuTunerGpuTest {
    @ParameterizedTest
    @ValueSource(strings = {"resnet50-tiny:FP16", "mobilenetv2-tiny:FP32", "bert-tiny:FP32"})
    void measuredPlansBuildAndMatchTheReference(String config) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        String model = config.split(":")[0];
        Precision p = Precision.valueOf(config.split(":")[1]);
        Graph reference = Zoo.build(model, ZooOptions.defaults());
        Graph prepared = Searcher.prepare(reference.copy());
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, p));
        if (p != Precision.FP32) o = o.withPrecisionRules(List.of(PrecisionRule.parse("*=" + p.text())));
        TimingCache cache = new TimingCache(GpuEngineFile.timingEnvironment(ctx));
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();

        GpuTuner cold = new GpuTuner(ctx, cache);
        TunedCosting costing = new TunedCosting(new CatalogCosting(TacticCatalog.global(), new CostModel(DeviceSpec.byName("h200-measured")), true), cold, 2);
        SearchProblem problem = Searcher.problem(prepared, costing, o);
        Plan plan = Searcher.run(problem, "joint", o);
        System.out.printf("RESULT|tuner %s|-|-|-|-|%d timed, %d refused in %.1f s, %d choices priced by measurement, predicted %.4f ms|ok%n", config,
                cold.measuredHere(), cold.refused(), cold.seconds(), costing.choicesOverridden(), plan.predictedMs());
        for (String r : cold.refusals()) System.out.println("  not measured: " + r);
        checks.check(config + " measured something", () -> assertTrue(cold.measuredHere() > 0));

        GpuTuner warm = new GpuTuner(ctx, cache);
        SearchProblem again = Searcher.problem(Searcher.prepare(reference.copy()),
                new TunedCosting(new CatalogCosting(TacticCatalog.global(), new CostModel(DeviceSpec.byName("h200-measured")), true), warm, 2), o);
        Plan plan2 = Searcher.run(again, "joint", o);
        checks.check(config + " warm cache measures nothing", () -> assertEquals(0, warm.measuredHere()));
        checks.check(config + " warm cache answers", () -> assertTrue(warm.fromCache() > 0));
        checks.check(config + " same plan from the cache", () -> assertEquals(plan.predictedMs(), plan2.predictedMs(), 1e-9));

        PlanApplier.Applied a = EnginePlans.complete(problem, plan);
        List<Tensor> inputs = GpuEngineBench.inputs(reference, new SplittableRandom(7), -2, 2);
        Map<String, Tensor> named = new LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) named.put(reference.inputs().get(i).name(), inputs.get(i));
        List<Tensor> ref = List.copyOf(GpuTestSupport.reference(reference, named).values());
        checks.check(config + " build", () -> {
            GpuEngine.Precision gp = GpuEngine.precisionFor(a.plan(), a.graph());
            try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), gp, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
                c.captureGraph();
                List<Tensor> got = c.run(inputs);
                for (int i = 0; i < got.size(); i++) {
                    String what = "engine tuned " + config + " output " + i;
                    Tensor gi = got.get(i), ri = ref.get(i);
                    checks.check(what, () -> assertClose(what, gi, ri, ZooEngineGpuTest.tolerance(gp)));
                }
                double ms = GpuExecutionContext.quantile(c.time(20, 100), 0.5);
                System.out.printf("RESULT|tuned plan %s|-|-|-|-|predicted %.4f ms, measured %.4f ms (%+.0f%%)|ok%n", config, plan.predictedMs(), ms, 100 * (plan.predictedMs() - ms) / ms);
            }
        });
        checks.done();
    }
}

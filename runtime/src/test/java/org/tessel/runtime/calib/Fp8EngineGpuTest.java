package org.tessel.runtime.calib;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import org.tessel.search.EnginePlans;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.QuantizationTable;

/**
 * FP8 plans built on the GPU (issue 10; sm_89 and later): a calibrated plan with transformer GEMMs pinned to FP8 is built
 * by the GPU builder (E4M3 casts at the plan's scales, cuBLASLt's FP8 GEMM with both operands' scales, Tessel's FP8
 * epilogue with bias, residual and GELU) and run against the CPU engine of the same plan, which emulates FP8 by fake
 * quantization. They compute the same E4M3 operands; the sums differ in order (tensor cores vs f32 on the CPU), so an
 * output code is off by one step here and there, and a step of E4M3 is 1/8 to 1/16 of a value: through BERT-tiny's four FP8
 * GEMMs with LayerNorms between, an H100 measured the GPU 5.7e-2 from the emulation while both were as far from the FP32
 * reference (7.6e-2 and 7.3e-2). So: relative L2 under 1e-1 against the emulation, and no farther from the reference
 * than twice the emulation is (or 0.2).
 */
@Tag("gpu")
class Fp8EngineGpuTest {
    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {"bert-tiny;*output.dense=fp8", "bert-tiny;*dense*=fp8", "bert-tiny;*intermediate*=fp8"})
    void fp8PlansRunOnTheGpuAsTheCpuEmulatesThem(String model, String rule) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        org.junit.jupiter.api.Assumptions.assumeFalse(GpuTestSupport.emulated(), "cuBLASLt's FP8 GEMM does not run on the emulated device");
        int sm = ctx.device().computeMajor() * 10 + ctx.device().computeMinor();
        if (sm < 89) {
            System.out.println("RESULT|fp8 " + model + " " + rule + "|-|-|-|-|FP8 needs sm_89+, this GPU is sm_" + sm + "|skip");
            return;
        }
        Graph g = Int8ExecutionTest.graph(model);
        Graph prepared = Searcher.prepare(g);
        List<List<Tensor>> data = new ArrayList<>();
        for (int b = 0; b < 2; b++) data.add(Int8ExecutionTest.input(prepared, 100 + b));
        ActivationCalibration.Result r = ActivationCalibration.calibrate(prepared, data, new Calibrator.MinMax(), Precision.FP8, w -> {});
        SearchOptions o = SearchOptions.defaults().withTarget("h200").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16, Precision.FP8))
                .withPrecisionRules(List.of(PrecisionRule.parse(rule), PrecisionRule.parse("*=fp16|fp8|fp32")));
        SearchProblem p;
        PlanApplier.Applied a;
        try {
            p = Searcher.problem(prepared, o);
            a = EnginePlans.complete(p, Searcher.run(p, "joint", o));
        } catch (IllegalArgumentException e) {
            // every rule here names GEMMs an FP8 tactic runs (alone or in a fused gemm_bias_act): a missing plan is a failure
            System.out.println("RESULT|fp8 " + model + " " + rule + "|-|-|-|-|no plan: " + e.getMessage() + "|FAIL");
            throw new AssertionError("no FP8 plan for " + model + " with " + rule + ": " + e.getMessage(), e);
        }
        EnginePlan q = a.plan().withQuantization(QuantizationTable.forPlanned(a.graph(), a.plan(), Precision.FP8, r.calibrator(), r.scales()));
        PlanApplier.Applied planned = new PlanApplier.Applied(a.graph(), q);
        long fp8 = q.nodes().stream().filter(n -> n.precision() == Precision.FP8).count();
        if (fp8 == 0) throw new AssertionError("rule " + rule + " put no node at FP8: " + q.nodes());
        List<Tensor> in = Int8ExecutionTest.input(planned.graph(), 3);
        List<Tensor> cpu = Engine.buildCpu(planned.graph(), q).createContext().run(in);
        List<Tensor> ref = new org.tessel.ir.ReferenceInterpreter().run(g, Int8ExecutionTest.input(g, 3));
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        String what = "fp8 " + model + " " + rule;
        checks.check(what, () -> {
            GpuEngine.Precision io = GpuEngine.precisionFor(q, planned.graph());
            try (GpuEngine e = GpuEngine.build(planned.graph(), q, io, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
                long layers = e.layerPlans().stream().filter(l -> l.tactic().contains("/fp8")).count(); // GpuTactics.variant(id, "fp8"[, "im2col"])
                if (layers != fp8) throw new AssertionError(layers + " layers report an fp8 variant, the plan has " + fp8 + " FP8 nodes: " + e.layerPlans());
                List<Tensor> gpu = c.run(in);
                for (int k = 0; k < gpu.size(); k++) {
                    double vsCpu = Tensor.relativeL2(cpu.get(k), gpu.get(k));
                    double vsRef = Tensor.relativeL2(ref.get(k), gpu.get(k));
                    double cpuVsRef = Tensor.relativeL2(ref.get(k), cpu.get(k));
                    c.captureGraph();
                    double[] ms = c.time(10, 50);
                    System.out.printf(Locale.ROOT, "RESULT|%s|%d FP8 nodes of %d|%s|GPU vs CPU emulation rel L2 %.2e|GPU vs FP32 reference %.2e (CPU %.2e)|p50 %.4f ms|%s%n",
                            what, fp8, q.nodes().size(), e.describePrecision(), vsCpu, vsRef, cpuVsRef, GpuExecutionContext.quantile(ms, 0.5), vsCpu <= 1e-1 ? "ok" : "FAIL");
                    if (!(vsCpu <= 1e-1)) throw new AssertionError("output " + k + ": the GPU's FP8 engine differs from the CPU's emulation of the same plan by relative L2 " + vsCpu);
                    if (!(vsRef <= Math.max(0.2, 2 * cpuVsRef))) throw new AssertionError("output " + k + ": the GPU's FP8 engine is " + vsRef + " from the FP32 reference");
                }
            }
        });
        checks.done();
    }
}

package org.tessel.cli;

import java.util.Arrays;
import java.util.List;
import org.tessel.api.Tensor;
import org.tessel.experiments.ExperimentRunner;
import org.tessel.runtime.Backend;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.ExecutionContext;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuEngineException;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import org.tessel.search.EnginePlans;
import org.tessel.search.Plan;
import org.tessel.search.SearchProblem;
import org.tessel.tactics.plan.PlanApplier;

/**
 * Experiments that measure: each run's plan is applied and built on this machine's backend, exactly as `tessel build
 * --strategy` builds it (a GPU engine where there is a GPU: CUDA-graph replay, median of {@code iterations} after 20
 * warm-ups; else a CPU engine executing the plan: wall-clock median), on seeded random inputs. A plan this backend
 * cannot build (a GPU plan mixing precisions) is reported as not measured, with the reason.
 */
final class EngineMeasurer implements ExperimentRunner.Measurer {
    private final Backend backend;
    private final int iterations;

    EngineMeasurer(Backend backend, int iterations) {
        this.backend = backend;
        this.iterations = iterations;
    }

    @Override public String backend() {
        return backend instanceof Backend.Gpu g ? "cuda (" + g.context().device().name() + ")" : "cpu";
    }

    @Override public Measured measure(SearchProblem p, Plan plan) {
        PlanApplier.Applied a = EnginePlans.complete(p, plan);
        List<Tensor> inputs = OptimizeCommand.randomInputs(a.graph());
        if (backend instanceof Backend.Gpu gpu) {
            GpuEngine.Precision precision;
            try {
                precision = GpuEngine.precisionFor(a.plan(), a.graph());
            } catch (GpuEngineException e) {
                return new Measured(Double.NaN, "not measured: " + e.getMessage());
            }
            try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), precision, gpu.context(), GpuEngine.Options.FIXED, 1);
                 GpuExecutionContext c = e.createExecutionContext()) {
                c.run(inputs);
                c.captureGraph();
                return new Measured(GpuExecutionContext.quantile(c.time(20, iterations), 0.5), null);
            }
        }
        Engine e = Engine.buildCpu(a.graph(), a.plan());
        ExecutionContext c = e.createContext();
        for (int i = 0; i < 2; i++) c.run(inputs);
        double[] ms = new double[iterations];
        for (int i = 0; i < iterations; i++) {
            long t0 = System.nanoTime();
            c.run(inputs);
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        return new Measured(RunCommand.percentile(ms, 50), null);
    }
}

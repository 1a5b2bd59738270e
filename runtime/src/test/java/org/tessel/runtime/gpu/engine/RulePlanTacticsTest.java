package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.memory.MemoryPlan;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * The GPU builder's fallback rule (what it builds for a graph without a plan) names, node for node,
 * the tactics the search's {@code rule} strategy plans: one rule, stated once in the catalogue's terms,
 * and the builder's implementations agree with it. No GPU: the implementations are asked for their rule
 * tactic through a context that has no device memory (a question that needs buffers, such as the
 * attention kernels' alignment, is left out and counted).
 */
class RulePlanTacticsTest {
    /** A layer context without a device: graph and precision only. */
    private record Dry(Graph graph, GpuEngine.Precision precision) implements LayerContext {
        private static UnsupportedOperationException noGpu() { return new UnsupportedOperationException("no GPU in this test"); }
        @Override public DeviceBuffer activation(Value v) { throw noGpu(); }
        @Override public org.tessel.api.DType storageOf(Value v) { throw noGpu(); }
        @Override public MemoryPlan.Allocation placement(Value v) { throw noGpu(); }
        @Override public boolean isBound(Value v) { throw noGpu(); }
        @Override public void alias(Value v, DeviceBuffer b) { throw noGpu(); }
        @Override public DeviceBuffer weight(Value v, Layout filterLayout) { throw noGpu(); }
        @Override public DeviceBuffer upload(java.util.function.Supplier<Tensor> make, Value of, String form) { throw noGpu(); }
        @Override public DeviceBuffer shared(Value v, String form, Supplier<DeviceBuffer> make) { throw noGpu(); }
        @Override public DeviceBuffer keep(DeviceBuffer b) { throw noGpu(); }
        @Override public Supplier<DeviceBuffer> workspace() { throw noGpu(); }
        @Override public void needWorkspace(long bytes) { throw noGpu(); }
        @Override public KernelCompiler kernels() { throw noGpu(); }
        @Override public CublasLt cublasLt() { throw noGpu(); }
        @Override public Cudnn cudnn() { throw noGpu(); }
        @Override public Autotuner tuner() { return null; }
        @Override public String planned(Node n) { return null; }
        @Override public float scale(Value v) { throw new UnsupportedOperationException("no INT8 scales without a plan"); }
        @Override public LayerPlan plan(Node n, String tactic, Value out) { throw noGpu(); }
    }

    @ParameterizedTest
    @CsvSource({"resnet50-tiny,FP32", "resnet50-tiny,FP16", "resnet50-tiny,TF32", "mobilenetv2-tiny,FP32", "mobilenetv2-tiny,FP16",
            "googlenet-tiny,FP16", "googlenet-tiny,FP32", "bert-tiny,FP16", "bert-tiny,FP32", "vit-tiny,FP32", "vit-tiny,FP16", "crnn-tiny,FP32", "crnn-tiny,FP16"})
    void theBuildersRuleIsTheRuleStrategys(String model, String precision) {
        Graph g = Zoo.build(model, ZooOptions.defaults());
        Precision p = Precision.valueOf(precision);
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, p));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "rule", o));
        Dry dry = new Dry(a.graph(), GpuEngine.Precision.valueOf(precision));
        TacticImplementations impls = TacticImplementations.loaded();
        List<String> differ = new ArrayList<>();
        int compared = 0, needDevice = 0;
        for (Node n : a.graph().nodes()) {
            PlannedNode planned = a.plan().nodes().stream().filter(x -> x.node().equals(n.name())).findFirst().orElseThrow();
            TacticImplementations.Rule rule;
            try {
                rule = impls.rule(dry, n);
            } catch (UnsupportedOperationException e) {
                needDevice++;
                continue;
            }
            assertTrue(rule != null, n.describe() + " has no GPU tactic");
            compared++;
            if (!rule.implementation().realizes(planned.tacticId(), rule.tactic()) && !rule.implementation().realizes(rule.tactic(), planned.tacticId()))
                differ.add(n.describe() + ": planned " + planned.tacticId() + ", the builder's rule " + rule.tactic());
        }
        System.out.printf("%s %s: %d layers compared, %d need a device to decide%n", model, precision, compared, needDevice);
        assertEquals(List.of(), differ, model + " " + precision);
        assertTrue(compared > needDevice, "most layers are decided without a device");
    }
}

package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.api.kernel.CudaKernel;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.passes.memory.LivenessMemoryPlanner;
import org.tessel.passes.memory.MemoryPlan;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.tactics.Backend;
import org.tessel.tactics.CudaSourceTactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlannedNode;

/**
 * The guarded arena on the emulated device (a CPU test): a plugin's CUDA C Relu that stays inside its output runs in a
 * guarded engine and matches the reference; one that writes past its output's end is caught after its layer, the error
 * naming the layer, its tactic and the tensor whose guard it hit; the guarded layout gives every buffer its own slot.
 */
class ArenaGuardTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    /** A plugin Relu for f32 whose kernel writes {@code overrun} elements (42.0) past the end of its output. */
    record SloppyRelu(String id, int overrun) implements CudaSourceTactic {
        @Override public Backend backend() { return Backend.GPU; }
        @Override public boolean appliesTo(Node n) { return n.opName().equals("Relu"); }
        @Override public String whyNot(Node n, Precision p, Layout l) { return appliesTo(n) ? null : "not a Relu"; }
        @Override public long workspaceBytes(Node n, Precision p) { return 0; }
        @Override public TacticFeatures features(Node n, Precision p, Layout l) { return TacticFeatures.view(); }
        @Override public CudaKernel kernel() {
            String src = """
                    extern "C" __global__ void sloppy_relu_f32(const float* x, float* y, const long long* args, long long n) {
                        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
                        if (i < n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
                        else if (i < n + args[0]) y[i] = 42.0f;
                    }
                    """;
            return new CudaKernel("sloppy_relu.cu", src, 128, List.of(new CudaKernel.Variant(DType.F32, Layout.ANY, "sloppy_relu_f32")));
        }
        @Override public long[] kernelArguments(Node n, Precision p) { return new long[] {overrun}; }
    }

    /** x -> Relu (the plugin) -> Sigmoid -> out, and x -> Tanh -> out2: the Relu's output lives in the arena beside others. */
    static Graph graph() {
        NetworkBuilder b = new NetworkBuilder("guarded");
        var x = b.input("x", DType.F32, 2, 40);
        var r = b.name("relu").op("Relu", org.tessel.api.Attributes.empty(), x);
        var t = b.name("tanh").op("Tanh", org.tessel.api.Attributes.empty(), x);
        var s = b.name("sigmoid").op("Sigmoid", org.tessel.api.Attributes.empty(), r);
        var u = b.name("sum").op("Add", org.tessel.api.Attributes.empty(), s, t);
        return b.output(u).build();
    }

    static EnginePlan plan(Graph g, String reluTactic) {
        List<PlannedNode> ns = new ArrayList<>();
        for (Node n : g.nodes())
            ns.add(new PlannedNode(n.name(), n.opName(), n.opName().equals("Relu") ? reluTactic : "tessel.eltwise", "", Precision.FP32, Engine.planLayout(n), 0, Double.NaN));
        return new EnginePlan(g.name(), "file", "h100", 0, List.of(), ns, List.of(), Double.NaN, Double.NaN);
    }

    static Map<String, Tensor> inputs() { return Map.of("x", GpuTestSupport.random(new SplittableRandom(2), DType.F32, 2, 40)); }

    @Test void aKernelInsideItsOutputRunsGuardedAndMatchesTheReference() {
        Graph g = graph();
        SloppyRelu tidy = new SloppyRelu("test.relu.tidy", 0);
        try (var _ = TacticCatalog.install(TacticCatalog.global().with("plugin tidy.jar", List.of(tidy)));
             GpuEngine e = GpuEngine.buildGuarded(g, plan(g, tidy.id()), GpuEngine.Precision.FP32, ctx);
             GpuExecutionContext c = e.createExecutionContext()) {
            assertTrue(e.guarded());
            Tensor want = GpuTestSupport.reference(g, inputs()).get(g.outputs().get(0).name());
            for (int run = 0; run < 2; run++)
                GpuTestSupport.assertClose("guarded engine run " + run + " (emulated)", c.run(inputs()).get(g.outputs().get(0).name()), want, 1e-5);
            GpuEngineException graph = assertThrows(GpuEngineException.class, c::captureGraph);
            assertTrue(graph.getMessage().contains("not captured as a CUDA graph"), graph.getMessage());
        }
    }

    @Test void aKernelWritingPastItsOutputIsNamedWithTheGuardItHit() {
        Graph g = graph();
        SloppyRelu sloppy = new SloppyRelu("test.relu.sloppy", 8);
        try (var _ = TacticCatalog.install(TacticCatalog.global().with("plugin sloppy.jar", List.of(sloppy)));
             GpuEngine e = GpuEngine.buildGuarded(g, plan(g, sloppy.id()), GpuEngine.Precision.FP32, ctx);
             GpuExecutionContext c = e.createExecutionContext()) {
            GpuEngineException ex = assertThrows(GpuEngineException.class, () -> c.run(inputs()));
            String m = ex.getMessage();
            assertTrue(m.startsWith("layer relu (test.relu.sloppy) wrote outside its outputs: the guard after %"), m);
            String relu = g.nodes().stream().filter(n -> n.name().equals("relu")).findFirst().orElseThrow().output().name();
            assertTrue(m.contains("%" + relu + " "), "names the Relu's output " + relu + ": " + m);
            assertTrue(m.contains("changed at bytes 0..31 past the end of its slot"), "8 floats right after the slot: " + m);
            // the guards were re-armed: the same context fails the same way on the next run, not earlier
            GpuEngineException again = assertThrows(GpuEngineException.class, () -> c.run(inputs()));
            assertEquals(m, again.getMessage());
        }
    }

    @Test void theGuardedLayoutGivesEveryBufferItsOwnSlotWithAGuardAfterIt() {
        Graph g = graph();
        MemoryPlan base = new LivenessMemoryPlanner().plan(g);
        ArenaGuard guard = ArenaGuard.of(base);
        MemoryPlan p = guard.plan();
        assertEquals(base.allocations().keySet(), p.allocations().keySet());
        Set<Integer> buffers = new HashSet<>();
        List<long[]> slots = new ArrayList<>();
        for (var e : p.allocations().entrySet()) {
            MemoryPlan.Allocation a = e.getValue();
            assertEquals(base.of(e.getKey()).bytes(), a.bytes());
            if (buffers.add(a.buffer())) slots.add(new long[] {a.offset(), a.offset() + a.bytes()});
        }
        slots.sort(java.util.Comparator.comparingLong(s -> s[0]));
        for (int i = 1; i < slots.size(); i++)
            assertTrue(slots.get(i)[0] >= slots.get(i - 1)[0] + ArenaGuard.GUARD_F32_BYTES, "slots " + (i - 1) + " and " + i + " are a guard apart");
        for (var e : p.allocations().entrySet()) {
            long end = e.getValue().offset() + e.getKey().type().bytes();
            assertTrue(guard.gaps().stream().anyMatch(gap -> gap.offset() <= end && end < gap.offset() + gap.bytes() || gap.offset() > end),
                    "a guard follows %" + e.getKey().name());
        }
        assertEquals(buffers.size() + 1, guard.gaps().size(), "a guard before the first slot and after each");
        for (ArenaGuard.Gap gap : guard.gaps()) assertTrue(gap.offset() + gap.bytes() <= p.arenaBytes());
    }
}

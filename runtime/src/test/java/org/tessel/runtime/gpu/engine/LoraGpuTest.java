package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.LoraOps;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * tessel.LoraDelta as GPU engines (tessel.lora.bgmv), on a GPU or the emulated device: base + delta of three
 * stacked adapters with rows of each and of none, against the reference interpreter; an engine the joint search
 * plans; a stacked rank beyond the kernel's shared memory refused naming the node.
 */
@Tag("gpu")
class LoraGpuTest {
    /** y = base + LoraDelta(x, ...): x [rows, tokens, k], base [rows, tokens, n], adapter_ids [rows] as engine inputs. */
    static Graph graph(int rows, int tokens, int k, int n, int rank, int slots, SplittableRandom r, Map<String, Tensor> in, long... ids) {
        Graph g = new Graph("lora");
        Value x = g.addInput("x", TensorType.of(DType.F32, Shape.of(rows, tokens, k)));
        Value base = g.addInput("base", TensorType.of(DType.F32, Shape.of(rows, tokens, n)));
        Value idv = g.addInput("adapter_ids", TensorType.of(DType.I64, Shape.of(rows)));
        float[] s = new float[slots];
        for (int i = 0; i < slots; i++) s[i] = 0.5f + i;
        Node d = g.addNode(OpRegistry.global().get(LoraOps.DELTA), "delta", List.of(x,
                g.addConstant("lora_a", GpuTestSupport.random(r, DType.F32, Shape.of(slots, rank, k), -1, 1)),
                g.addConstant("lora_b", GpuTestSupport.random(r, DType.F32, Shape.of(slots, n, rank), -1, 1)),
                g.addConstant("scales", Tensor.ofFloats(Shape.of(slots), s)), idv), Attributes.empty(), 1);
        Node y = g.addNode(OpRegistry.global().get("Add"), "y", List.of(base, d.output()), Attributes.empty(), 1);
        g.setOutputs(List.of(y.output()));
        in.put("x", GpuTestSupport.random(r, DType.F32, Shape.of(rows, tokens, k), -1, 1));
        in.put("base", GpuTestSupport.random(r, DType.F32, Shape.of(rows, tokens, n), -1, 1));
        in.put("adapter_ids", Tensor.ofLongs(DType.I64, Shape.of(rows), ids));
        return g;
    }

    @Test void mixedAdapterRowsMatchTheReference() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Map<String, Tensor> in = new HashMap<>();
        Graph g = graph(5, 3, 70, 150, 12, 3, new SplittableRandom(2), in, 2, 0, 3, 1, 3);
        Map<String, Tensor> want = GpuTestSupport.reference(g, in);
        try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP32, ctx); GpuExecutionContext c = e.createExecutionContext()) {
            assertTrue(e.layerPlans().stream().anyMatch(l -> l.tactic().equals(GpuTactics.LORA)), e.layerPlans().toString());
            GpuTestSupport.assertClose("lora delta, adapters 2, none, 3, 1, 3", c.run(in).get("y"), want.get("y"), 1e-4);
        }
    }

    @Test void theJointSearchPlansTheLoraTactic() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Map<String, Tensor> in = new HashMap<>();
        Graph g = graph(4, 1, 64, 64, 8, 2, new SplittableRandom(3), in, 1, 2, 0, 2);
        Map<String, Tensor> want = GpuTestSupport.reference(g, in);
        Graph prepared = Searcher.prepare(g.copy());
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32));
        SearchProblem problem = Searcher.problem(prepared, o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.precisionFor(a.plan(), a.graph()), ctx, GpuEngine.Options.FIXED, 1);
             GpuExecutionContext x = e.createExecutionContext()) {
            assertTrue(e.layerPlans().stream().anyMatch(l -> l.tactic().equals(GpuTactics.LORA)), e.layerPlans().toString());
            GpuTestSupport.assertClose("joint plan", x.run(in).get("y"), want.get("y"), 1e-4);
        }
    }

    @Test void aRankBeyondSharedMemoryIsRefusedNamingTheNode() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph g = graph(2, 1, 16, 16, 65, 1, new SplittableRandom(1), new HashMap<>(), 1, 0);
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.build(g, GpuEngine.Precision.FP32, ctx).close());
        assertTrue(e.getMessage().contains("node 'delta' (tessel.LoraDelta)") && e.getMessage().contains("stacked rank 65"), e.getMessage());
    }
}

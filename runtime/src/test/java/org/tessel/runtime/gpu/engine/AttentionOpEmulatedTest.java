package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.AttrValue;
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
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * ONNX Attention and Einsum in GPU engines on the emulated device (kernel logic and launch arguments, never speed):
 * the search's preparation decomposes them, the rule plans the pieces, and the engine's outputs match the CPU engine
 * running the ops themselves. Forms: 3-D multi-head (plain and causal, planned as one fused attention group), 4-D with
 * a bool mask, grouped-query heads with a past cache (present outputs too), softcap with a float mask shorter than
 * the keys; a batched-contraction Einsum. cuBLASLt does not run emulated, so MatMuls the plan gives it run on
 * tessel.matmul.
 */
class AttentionOpEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    static Graph oneNode(String op, Attributes a, int outputs, Tensor... ins) {
        Graph g = new Graph(op.toLowerCase() + "_" + ins[0].shape().rank() + "d");
        List<Value> vs = new ArrayList<>();
        for (int i = 0; i < ins.length; i++) vs.add(ins[i] == null ? null : g.addInput("in" + i, TensorType.of(ins[i].dtype(), ins[i].shape())));
        Node n = g.addNode(OpRegistry.global().get(op), op.toLowerCase(), vs, a, outputs);
        g.setOutputs(n.outputs());
        return g;
    }

    static Tensor random(SplittableRandom r, int... dims) {
        Tensor x = Tensor.zeros(DType.F32, Shape.of(dims));
        for (int i = 0; i < x.size(); i++) x.setDouble(i, r.nextDouble(-1, 1));
        return x;
    }

    private static List<String> check(Graph g, Tensor... ins) { return check(ctx, true, g, ins); }

    /**
     * Plans g at FP32 with the rule (cuBLASLt's MatMuls moved to tessel.matmul when {@code noCublas}: the emulator has
     * no cuBLASLt), builds it on ctx, runs it, compares every output with the CPU engine; returns the layers' tactics.
     */
    static List<String> check(CudaContext ctx, boolean noCublas, Graph g, Tensor... ins) {
        Map<String, Tensor> feed = new LinkedHashMap<>();
        int k = 0;
        for (Tensor t : ins) if (t != null) feed.put(g.inputs().get(k++).name(), t);
        Map<String, Tensor> want = Engine.buildCpu(g).createContext().run(feed);
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32));
        Graph prepared = Searcher.prepare(g);
        assertFalse(prepared.nodes().stream().anyMatch(n -> n.opName().equals("Attention") || n.opName().equals("Einsum")), g.name());
        SearchProblem problem = Searcher.problem(prepared, o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "rule", o));
        List<PlannedNode> ns = new ArrayList<>();
        for (PlannedNode pn : a.plan().nodes()) ns.add(noCublas && pn.tactic().startsWith("cublaslt.") ? pn.withTactic(GpuTactics.MATMUL, "") : pn);
        a = new PlanApplier.Applied(a.graph(), a.plan().withNodes(ns));
        List<String> tactics;
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.Precision.FP32, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
            tactics = e.layerPlans().stream().map(l -> l.tactic()).distinct().toList();
            Map<String, Tensor> got = c.run(feed);
            for (Value out : g.outputs()) {
                Tensor w = want.get(out.name()), x = got.get(out.name());
                assertEquals(w.shape(), x.shape(), g.name() + " " + out.name());
                for (int i = 0; i < w.size(); i++)
                    assertEquals(w.getDouble(i), x.getDouble(i), 2e-5 * Math.max(1, Math.abs(w.getDouble(i))), g.name() + " " + out.name() + " element " + i);
            }
        }
        return tactics;
    }

    static Attributes heads(Attributes a, long q, long kv) {
        return a.with("q_num_heads", AttrValue.of(q)).with("kv_num_heads", AttrValue.of(kv));
    }

    @Test void threeDimensionalMultiHeadAttentionRunsAsOneFusedGroup() {
        SplittableRandom r = new SplittableRandom(1);
        Tensor q = random(r, 2, 16, 64), k = random(r, 2, 16, 64), v = random(r, 2, 16, 64);
        for (Attributes a : List.of(Attributes.empty(), Attributes.builder().put("is_causal", 1L).build())) {
            List<String> tactics = check(oneNode("Attention", heads(a, 2, 2), 1, q, k, v), q, k, v);
            assertTrue(tactics.contains(GpuTactics.ATTENTION_MMA) || tactics.contains(GpuTactics.ATTENTION_BSHD), tactics.toString());
        }
    }

    @Test void otherFormsRunAsTheirPieces() {
        SplittableRandom r = new SplittableRandom(2);
        // 4-D with a bool mask [Sq, T] (one row fully masked)
        Tensor q = random(r, 1, 2, 3, 8), k = random(r, 1, 2, 5, 8), v = random(r, 1, 2, 5, 8);
        Tensor mask = Tensor.zeros(DType.BOOL, Shape.of(3, 5));
        for (int i = 5; i < 15; i++) mask.setDouble(i, r.nextBoolean() || i % 5 == 0 ? 1 : 0);
        List<String> t = check(oneNode("Attention", Attributes.empty(), 1, q, k, v, mask), q, k, v, mask);
        assertTrue(t.contains(GpuTactics.SOFTMAX), t.toString());
        // grouped-query 3-D heads (6 over 2) with a past cache, causal, present outputs read
        Tensor q3 = random(r, 2, 3, 6 * 8), k3 = random(r, 2, 3, 2 * 8), v3 = random(r, 2, 3, 2 * 8), pk = random(r, 2, 2, 4, 8), pv = random(r, 2, 2, 4, 8);
        check(oneNode("Attention", heads(Attributes.builder().put("is_causal", 1L).build(), 6, 2), 3, q3, k3, v3, null, pk, pv), q3, k3, v3, pk, pv);
        // softcap and a float mask shorter than the keys (padded with -inf)
        Tensor fm = random(r, 1, 1, 3, 4);
        check(oneNode("Attention", Attributes.builder().put("softcap", 0.7f).build(), 1, q, k, v, fm), q, k, v, fm);
    }

    @Test void aBatchedContractionEinsumRunsAsMatMuls() {
        SplittableRandom r = new SplittableRandom(3);
        Tensor a = random(r, 2, 3, 4, 8), b = random(r, 2, 3, 5, 8);
        List<String> t = check(oneNode("Einsum", Attributes.builder().put("equation", "bhqd,bhkd->bhqk").build(), 1, a, b), a, b);
        assertTrue(t.contains(GpuTactics.MATMUL), t.toString());
    }
}

package org.tessel.tactics.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;
import org.tessel.tactics.TacticCatalog;

/**
 * Plans with horizontal merges: the applier makes the merge (named as the plan says) before fusing,
 * a group may fuse the merged chain, the planned graph computes what the prepared graph does and
 * passes the plan check; merges round-trip through JSON (version 2) while version 1 files still
 * read; a merge that cannot be made is refused naming it and why.
 */
class PlanMergesTest {
    /** Q/K/V projections (MatMul + bias Add) of one input, their results multiplied and returned. */
    static Graph qkv() {
        NetworkBuilder b = new NetworkBuilder("qkv", OpRegistry.global(), 2);
        Value h = b.input("h", DType.F32, 1, 4, 8);
        Value[] p = new Value[3];
        String[] names = {"q", "k", "v"};
        for (int i = 0; i < 3; i++) {
            Value mm = b.name(names[i]).matmul(h, b.randomWeights("w" + names[i], 8, 8));
            p[i] = b.name(names[i] + "_add").add(mm, b.randomWeights("b" + names[i], 8));
        }
        Value qk = b.name("qk").mul(p[0], p[1]);
        return b.output(b.name("out").mul(qk, p[2])).build();
    }

    static final PlannedMerge QKV = new PlannedMerge("matmul", List.of(List.of("q", "q_add"), List.of("k", "k_add"), List.of("v", "v_add")),
            List.of("q_merged", "q_add_merged"), "q_split");

    /** The merge, the merged chain fused as gemm_bias_act, and a plan entry per planned node. */
    static EnginePlan plan() {
        FusedGroup wide = FusedGroup.of("gemm_bias_act", List.of("q_merged", "q_add_merged"));
        List<PlannedNode> nodes = List.of(
                new PlannedNode(wide.name(), "tessel.Fused", "cublaslt.gemm.bias", "", Precision.FP32, Layout.NCHW, 0, 5),
                new PlannedNode("q_split", "Split", "tessel.split", "", Precision.FP32, Layout.NCHW, 0, 1),
                new PlannedNode("qk", "Mul", "tessel.eltwise", "", Precision.FP32, Layout.NCHW, 0, 1),
                new PlannedNode("out", "Mul", "tessel.eltwise", "", Precision.FP32, Layout.NCHW, 0, 1));
        return new EnginePlan("qkv", "file", "h100", 0, List.of(QKV), List.of(wide), nodes, List.of(), 8, Double.NaN);
    }

    @Test void aMergedAndFusedPlanAppliesChecksAndKeepsMeaning() {
        Graph g = qkv();
        PlanApplier.Applied a = PlanApplier.apply(g, plan());
        Verifier.verify(a.graph());
        List<String> ops = new ArrayList<>();
        for (Node n : a.graph().nodes()) ops.add(n.name() + ":" + n.opName());
        assertEquals(List.of("q_merged+1:tessel.Fused", "q_split:Split", "qk:Mul", "out:Mul"), ops);
        PlanCheck.check(a.plan(), a.graph(), TacticCatalog.global(), org.tessel.cost.DeviceSpec.byName("h100"));
        assertEquals(List.of(QKV), a.plan().merges());
        assertEquals(3, a.graph().nodes().get(1).outputs().size());
        assertEquals(List.of("q_add", "k_add", "v_add"), a.graph().nodes().get(1).outputs().stream().map(Value::name).toList(), "the chains' results keep their names");
        Tensor x = Tensor.zeros(DType.F32, g.inputs().getFirst().type().shape());
        for (int i = 0; i < x.size(); i++) x.setDouble(i, Math.sin(i));
        Map<String, Tensor> want = new ReferenceInterpreter().run(g, Map.of("h", x)), got = new ReferenceInterpreter().run(a.graph(), Map.of("h", x));
        assertTrue(want.get("out").dataEquals(got.get("out")), "the merged graph computes the same, exactly");
        assertTrue(a.plan().render().contains("merge q_merged (matmul): q, q_add | k, k_add | v, v_add -> q_merged, q_add_merged, split q_split"), a.plan().render());
    }

    @Test void mergesRoundTripThroughJsonAndVersionOnePlansStillRead() {
        EnginePlan p = PlanApplier.apply(qkv(), plan()).plan();
        String json = EnginePlanJson.write(p);
        assertTrue(json.contains("\"plan_version\" : 3") && json.contains("\"merges\""), json);
        assertEquals(p, EnginePlanJson.read(json, "plan.json"));
        String v1 = "{\"plan_version\": 1, \"model\": \"m\", \"strategy\": \"s\", \"target\": \"t\", \"groups\": [], "
                + "\"nodes\": [{\"node\": \"a\", \"op\": \"Relu\", \"tactic\": \"tessel.eltwise\", \"precision\": \"fp32\", \"layout\": \"any\"}]}";
        EnginePlan old = EnginePlanJson.read(v1, "old.json");
        assertTrue(old.merges().isEmpty());
        assertEquals(1, old.nodes().size());
        PlanException e = assertThrows(PlanException.class, () -> EnginePlanJson.read(v1.replace("\"groups\": []", "\"merges\": [], \"groups\": []"), "old.json"));
        assertEquals("old.json: 'merges' needs plan_version 2 or later (the file says 1)", e.getMessage());
        e = assertThrows(PlanException.class, () -> EnginePlanJson.read(json.replace("\"q_add_merged\" ]", "\"q_add_merged\", \"extra\" ]"), "p.json"));
        assertTrue(e.getMessage().startsWith("p.json: merges[0]: merge ") && e.getMessage().contains("has 2 nodes"), e.getMessage());
    }

    @Test void aMergeThatCannotBeMadeIsRefusedNamingItAndWhy() {
        Graph g = qkv();
        EnginePlan good = plan();
        PlanException e = assertThrows(PlanException.class, () -> PlanApplier.apply(g, withMerge(good, new PlannedMerge("matmul",
                List.of(List.of("q", "q_add"), List.of("nope", "k_add")), List.of("q_merged", "q_add_merged"), "q_split"))));
        assertEquals("merge 'q_merged': graph 'qkv' has no node 'nope'", e.getMessage());
        e = assertThrows(PlanException.class, () -> PlanApplier.apply(g, withMerge(good, new PlannedMerge("matmul",
                List.of(List.of("q"), List.of("k")), List.of("q_merged"), "q_split"))));
        assertTrue(e.getMessage().startsWith("merge 'q_merged' cannot be made: node 'q' (MatMul) heads the chain [q, q_add], not [q]"), e.getMessage());
        e = assertThrows(PlanException.class, () -> PlanApplier.apply(g, withMerge(good, new PlannedMerge("matmul",
                QKV.chains(), List.of("wide", "wide_add"), "q_split"))));
        assertTrue(e.getMessage().contains("made nodes [q_merged, q_add_merged, q_split], the plan names them [wide, wide_add, q_split]"), e.getMessage());
        e = assertThrows(PlanException.class, () -> new EnginePlan("m", "s", "t", 0, List.of(QKV, QKV), List.of(), List.of(), List.of(), 0, 0));
        assertTrue(e.getMessage().contains("node 'q' is in two merges"), e.getMessage());
    }

    private static EnginePlan withMerge(EnginePlan p, PlannedMerge m) {
        return new EnginePlan(p.model(), p.strategy(), p.target(), p.seed(), List.of(m), p.groups(), p.nodes(), p.conversions(), p.predictedUs(), p.boundUs());
    }
}

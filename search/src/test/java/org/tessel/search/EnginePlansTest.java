package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.ir.Value;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Verifier;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.EnginePlanJson;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlanCheck;
import org.tessel.tactics.plan.PlanException;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Every strategy's result becomes an engine plan that applies to its prepared graph, passes the
 * plan check, round-trips through JSON, and whose planned graph means what the prepared graph
 * means (fusion and layouts change how, never what, a graph computes).
 */
class EnginePlansTest {
    private static final List<String> STRATEGIES = List.of("rule", "greedy", "sequential", "exact", "timefold");

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
    void everyStrategysPlanAppliesChecksAndKeepsMeaning(long seed) {
        SearchOptions o = SearchOptions.defaults().withSeed(seed).withSteps(50, 3000);
        SearchProblem p = Problems.small(seed);
        Map<String, Tensor> inputs = inputs(p.prepared(), seed);
        Map<String, Tensor> want = new ReferenceInterpreter().run(p.prepared(), inputs);
        for (String s : STRATEGIES) {
            Plan plan = Searcher.run(p, s, o);
            PlanApplier.Applied a = EnginePlans.complete(p, plan);
            Verifier.verify(a.graph());
            PlanCheck.check(a.plan(), a.graph(), TacticCatalog.global(), DeviceSpec.byName("h100"));
            assertEquals(a.graph().nodes().size(), a.plan().nodes().size(), s);
            assertEquals(a.plan(), EnginePlanJson.read(EnginePlanJson.write(a.plan()), "test"), s + ": JSON round trip");
            Map<String, Tensor> got = new ReferenceInterpreter().run(a.graph(), inputs);
            for (var e : want.entrySet()) assertClose(e.getValue(), got.get(e.getKey()), s + " seed " + seed + " output " + e.getKey());
        }
    }

    @Test
    void ruleReproducesTheStandardPipelinesFp16Graph() {
        Graph g = Zoo.build("resnet50-tiny", ZooOptions.defaults());
        SearchOptions o = SearchOptions.defaults().withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16));
        SearchProblem p = Searcher.problem(Searcher.prepare(g), o);
        PlanApplier.Applied a = EnginePlans.complete(p, Searcher.run(p, "rule", o));
        Graph standard = g.copy();
        new PassManager().run(standard, StandardPipelines.STANDARD);
        assertEquals(ops(standard), ops(a.graph()), "the rule's planned graph is the standard pipeline's");
        for (PlannedNode n : a.plan().nodes())
            if (!n.op().equals("tessel.Reformat") || !n.node().equals("reformat_input_nhwc")) assertEquals(Precision.FP16, n.precision(), n.node());
    }

    /**
     * At batch 256 the joint search runs ResNet-50's stem (conv1, its ReLU, the max pool) as one conv_pool group on
     * {@code tessel.conv.stem_pool}, which never writes the 112 x 112 convolution output (what the fused group computes
     * is {@code FusionTest}'s question).
     */
    @Test
    void theJointPlanFusesResNetsStemWithItsPool() {
        SearchOptions o = SearchOptions.defaults().withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16));
        SearchProblem p = Searcher.problem(Searcher.prepare(Zoo.build("resnet50", ZooOptions.defaults().withBatch(256))), o);
        EnginePlan e = EnginePlans.complete(p, Searcher.run(p, "exact", o)).plan();
        FusedGroup stem = e.groups().stream().filter(f -> f.kind().equals("conv_pool")).findFirst()
                .orElseThrow(() -> new AssertionError("no conv_pool group in " + e.groups()));
        assertEquals(List.of("conv1", "relu", "maxpool"), stem.members());
        PlannedNode n = e.nodes().stream().filter(x -> x.node().equals(stem.name())).findFirst().orElseThrow();
        assertEquals("tessel.conv.stem_pool", n.tacticId());
        assertEquals(Precision.FP16, n.precision());

    }

    @Test
    void defaultSearchDoesNotPickInt8WhichNoEngineBuilds() {
        SearchProblem p = Problems.zoo("resnet50-tiny");
        for (SearchProblem.Node n : p.nodes()) for (var c : n.choices()) assertNotEquals(Precision.INT8, c.precision(), n.name());
    }

    @Test
    void planCheckNamesTheNodeOfAnUnknownOrUnsupportedTactic() {
        SearchProblem p = Problems.small(3);
        PlanApplier.Applied a = EnginePlans.complete(p, Searcher.run(p, "greedy", SearchOptions.defaults()));
        PlannedNode first = a.plan().nodes().getFirst();
        List<PlannedNode> ns = new ArrayList<>(a.plan().nodes());
        ns.set(0, first.withTactic("cudnn.conv.no_such_algo", ""));
        PlanException e = assertThrows(PlanException.class, () -> PlanCheck.check(a.plan().withNodes(ns), a.graph(), TacticCatalog.global(), null));
        assertTrue(e.getMessage().contains("'" + first.node() + "'") && e.getMessage().contains("unknown tactic"), e.getMessage());
        ns.set(0, first.withTactic("cpu.reference", "").withVariant(""));
        PlannedNode fp16cpu = new PlannedNode(first.node(), first.op(), "cpu.reference", "", Precision.FP16, first.layout(), 0, Double.NaN);
        ns.set(0, fp16cpu);
        e = assertThrows(PlanException.class, () -> PlanCheck.check(a.plan().withNodes(ns), a.graph(), TacticCatalog.global(), null));
        assertTrue(e.getMessage().contains("'" + first.node() + "'") && e.getMessage().contains("cpu.reference"), e.getMessage());
        List<PlannedNode> missing = new ArrayList<>(a.plan().nodes());
        missing.removeLast();
        e = assertThrows(PlanException.class, () -> PlanCheck.check(a.plan().withNodes(missing), a.graph(), TacticCatalog.global(), null));
        assertTrue(e.getMessage().contains("no entry for node '" + a.plan().nodes().getLast().node() + "'"), e.getMessage());
    }

    @Test
    void applyingRefusesAGroupWithAMissingMember() {
        SearchProblem p = Problems.small(3);
        EnginePlan d = EnginePlans.decisions(p, Searcher.run(p, "greedy", SearchOptions.defaults()));
        List<FusedGroup> gs = new ArrayList<>(d.groups());
        gs.add(FusedGroup.of("eltwise", List.of("no_such_node", "other")));
        EnginePlan bad = new EnginePlan(d.model(), d.strategy(), d.target(), d.seed(), gs, d.nodes(), d.conversions(), d.predictedUs(), d.boundUs());
        PlanException e = assertThrows(PlanException.class, () -> PlanApplier.apply(p.prepared(), bad));
        assertTrue(e.getMessage().contains("no node 'no_such_node'"), e.getMessage());
    }

    @Test
    void jsonReaderNamesTheBadEntry() {
        PlanException e = assertThrows(PlanException.class, () -> EnginePlanJson.read("{\"plan_version\": 1, \"model\": \"m\", \"strategy\": \"s\", \"target\": \"t\", "
                + "\"groups\": [], \"nodes\": [{\"node\": \"conv1\", \"op\": \"Conv\", \"tactic\": \"x\", \"precision\": \"fp12\", \"layout\": \"nchw\"}]}", "plan.json"));
        assertEquals("plan.json: node 'conv1': unknown precision 'fp12' (fp32, tf32, fp16, bf16, int8, fp8)", e.getMessage());
        e = assertThrows(PlanException.class, () -> EnginePlanJson.read("{\"plan_version\": 1,", "plan.json"));
        assertTrue(e.getMessage().startsWith("plan.json: not a JSON plan"), e.getMessage());
    }

    private static List<String> ops(Graph g) {
        List<String> out = new ArrayList<>();
        for (var n : g.nodes()) out.add(n.opName() + (n.body() != null ? ":" + n.attrs().getString("kind", "") : "") + "/" + (n.output().type().layout()));
        return out;
    }

    static Map<String, Tensor> inputs(Graph g, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Value v : g.inputs()) {
            Tensor t = Tensor.zeros(v.type());
            for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble(-1, 1));
            m.put(v.name(), t);
        }
        return m;
    }

    static void assertClose(Tensor want, Tensor got, String what) {
        double num = 0, den = 0;
        for (int i = 0; i < want.size(); i++) {
            double d = want.getDouble(i) - got.getDouble(i);
            num += d * d;
            den += want.getDouble(i) * want.getDouble(i);
        }
        assertTrue(Math.sqrt(num) <= 1e-5 * Math.max(1e-6, Math.sqrt(den)), what + ": relative L2 " + Math.sqrt(num / Math.max(1e-30, den)));
    }
}

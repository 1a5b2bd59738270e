package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Layout;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlanCheck;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Forced choices: parsed strictly; every strategy's plan runs each forced node (or the group that
 * computes it) with the forced tactic at the forced precision and layout; a choice that cannot be
 * obeyed fails before solving, naming the node and the catalogue's reason.
 */
class ForcedChoiceTest {
    static final List<String> STRATEGIES = List.of("joint", "exact", "timefold", "greedy", "sequential", "rule");
    static final EnumSet<Precision> ALL = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);

    /** Forced choices per model: a relu pulled out of its conv group at fp16, a conv forced to NHWC fp16, a pool on the host, softmax by op. */
    static final Map<String, List<String>> FORCED = Map.of(
            "resnet50-tiny", List.of("layer1.0.relu1=tessel.eltwise:fp16", "layer2.0.conv1=cudnn.conv.fused_bias_act:fp16:nhwc",
                    "maxpool=cpu.reference", "Softmax=tessel.softmax:bf16", "layer4.0.conv2=cudnn.conv.fused_bias_act:tf32:nchw"),
            "bert-tiny", List.of("encoder.layer.0.attention.self.softmax=tessel.softmax:fp32", "*intermediate.gelu=tessel.eltwise:bf16",
                    "encoder.layer.1.output.LayerNorm=tessel.layernorm:fp16", "pooler.dense=cublaslt.gemm:fp16"));

    static Graph prepared(String model) { return Searcher.prepare(Zoo.build(model, ZooOptions.defaults())); }

    static SearchOptions options(List<String> forced) {
        return SearchOptions.defaults().withPrecisions(ALL).withSteps(50, 4000).withForced(forced.stream().map(ForcedChoice::parse).toList());
    }

    /** The planned node that computes prepared node {@code name}: its group's, or its own. */
    static PlannedNode computing(PlanApplier.Applied a, String name) {
        for (FusedGroup g : a.plan().groups()) if (g.members().contains(name)) return a.plan().node(g.name());
        return a.plan().node(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet50-tiny", "bert-tiny"})
    void everyStrategyObeysEveryForcedChoice(String model) {
        Graph g = prepared(model);
        List<ForcedChoice> fs = FORCED.get(model).stream().map(ForcedChoice::parse).toList();
        SearchOptions o = options(FORCED.get(model));
        SearchProblem p = Searcher.problem(g, o);
        for (String s : STRATEGIES) {
            Plan plan = Searcher.run(p, s, o);
            PlanApplier.Applied a = EnginePlans.complete(p, plan);
            PlanCheck.check(a.plan(), a.graph(), TacticCatalog.global(), DeviceSpec.byName("h100"));
            int checked = 0;
            for (Node n : g.nodes())
                for (ForcedChoice f : fs)
                    if (f.matches(n)) {
                        PlannedNode pn = computing(a, n.name());
                        assertTrue(f.admits(pn.tacticId(), pn.precision(), pn.layout()), s + ": " + n.describe() + " forced " + f.text() + " but planned as "
                                + pn.node() + " " + pn.tacticId() + " " + pn.precision() + "/" + pn.layout() + "\n" + a.plan().render());
                        checked++;
                    }
            assertTrue(checked >= fs.size(), s + ": every forced choice matched a node");
        }
    }

    @Test void aGroupThatCannotRunTheForcedTacticIsNotACandidate() {
        Graph g = prepared("resnet50-tiny");
        SearchProblem free = Searcher.problem(g, SearchOptions.defaults());
        SearchProblem p = Searcher.problem(g, options(List.of("layer1.0.relu1=tessel.eltwise:fp16")));
        int relu = indexOf(p, "layer1.0.relu1");
        assertTrue(free.candidatesOf(relu).size() > 0, "the relu is in a conv group when nothing is forced");
        assertTrue(p.candidatesOf(relu).isEmpty(), "no fused tactic is tessel.eltwise, so no group takes the relu: " + p.candidatesOf(relu));
        assertTrue(p.node(relu).choices().stream().allMatch(c -> c.tacticId().equals("tessel.eltwise") && c.precision() == Precision.FP16));
        // a forced tactic that runs the group restricts the group's fused choices instead of dropping it
        SearchProblem q = Searcher.problem(g, options(List.of("layer2.0.conv1=cudnn.conv.fused_bias_act:fp16:nhwc")));
        int conv = indexOf(q, "layer2.0.conv1");
        assertFalse(q.candidatesOf(conv).isEmpty());
        for (SearchProblem.Candidate c : q.candidatesOf(conv))
            assertTrue(c.fused().values().stream().allMatch(fc -> fc.tacticId().equals("cudnn.conv.fused_bias_act") && fc.precision() == Precision.FP16
                    && fc.layout() == Layout.NHWC), c.fused().toString());
    }

    static int indexOf(SearchProblem p, String name) {
        for (SearchProblem.Node n : p.nodes()) if (n.name().equals(name)) return n.index();
        throw new AssertionError("no node " + name);
    }

    /**
     * A merge runs its members' forced tactic too: llama-tiny's decode step (one row, so its Q/K/V and gate/up merges split
     * as free views) with every MatMul forced onto tessel.matmul plans each MatMul, merged wide ones included, on it.
     */
    @Test void aMergeOfForcedMembersRunsTheForcedTactic() {
        Graph step = org.tessel.ir.zoo.Zoo.buildPagedDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new org.tessel.ir.zoo.PagedDecoderShape(1, 1, 4, 4, 16), 3, null,
                org.tessel.ir.zoo.KvCacheFormat.NATIVE);
        for (List<String> forced : List.of(List.<String>of(), List.of("MatMul=tessel.matmul:fp16"))) {
            SearchOptions o = SearchOptions.defaults().withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16)).withForced(forced.stream().map(ForcedChoice::parse).toList());
            SearchProblem p = Searcher.problem(Searcher.prepare(step), o);
            PlanApplier.Applied a = EnginePlans.complete(p, Searcher.run(p, "joint", o));
            List<PlannedNode> matmuls = a.plan().nodes().stream().filter(n -> n.op().equals("MatMul")).toList();
            // unforced, the wide MatMuls may run fused with their norms (rmsnorm_gemm groups), so none is left alone
            if (forced.isEmpty()) assertFalse(a.plan().merges().isEmpty(), "unforced, the one-row step merges its projections: " + a.plan().nodes());
            else {
                assertFalse(matmuls.isEmpty());
                for (PlannedNode n : matmuls) assertEquals("tessel.matmul", n.tacticId(), n.node() + " of " + matmuls);
            }
        }
    }

    @Test void parsing() {
        ForcedChoice f = ForcedChoice.parse("conv1=cudnn.conv.fused_bias_act:fp16:nhwc");
        assertEquals(new ForcedChoice("conv1", "cudnn.conv.fused_bias_act", Precision.FP16, Layout.NHWC), f);
        assertEquals("conv1=cudnn.conv.fused_bias_act:fp16:nhwc", f.text());
        ForcedChoice open = ForcedChoice.parse("Conv = cpu.reference:*:nchw");
        assertNull(open.precision());
        assertEquals(Layout.NCHW, open.layout());
        assertEquals("Conv=cpu.reference:*:nchw", open.text());
        assertEquals(open, ForcedChoice.parse(open.text()));
        assertEquals(new ForcedChoice("*", "cpu.reference", null, null), ForcedChoice.parse("*=cpu.reference"));
        ForcedChoice v = ForcedChoice.parse("tessel.PagedAttention=tessel.attention.paged/mma:fp16");
        assertEquals(new ForcedChoice("tessel.PagedAttention", "tessel.attention.paged", Precision.FP16, null, "mma"), v);
        assertEquals("tessel.PagedAttention=tessel.attention.paged/mma:fp16", v.text());
        assertEquals(v, ForcedChoice.parse(v.text()));
        Map<String, String> bad = new HashMap<>();
        bad.put("conv1", "expected PATTERN=TACTIC");
        bad.put("=cpu.reference", "expected PATTERN=TACTIC");
        bad.put("conv1=cpu.reference:fp64", "unknown precision 'fp64'");
        bad.put("conv1=cpu.reference:fp32:chwn", "unknown layout 'chwn'");
        bad.put("conv1=cpu.reference:fp32:any", "unknown layout 'any'");
        bad.put("conv1=cpu.reference:fp32:nchw:x", "too many ':' parts");
        bad.put("conv1=tessel.conv.stem/", "is not TACTIC/VARIANT");
        bad.put("conv1=/mma", "is not TACTIC/VARIANT");
        bad.put("conv1=a/b/c", "is not TACTIC/VARIANT");
        bad.put("conv1=:fp16", "no tactic");
        bad.forEach((text, msg) -> {
            var e = assertThrows(IllegalArgumentException.class, () -> ForcedChoice.parse(text), text);
            assertTrue(e.getMessage().contains(msg) && e.getMessage().contains("forced choice"), text + ": " + e.getMessage());
        });
    }

    /** What the search says when {@code forced} cannot be obeyed on resnet50-tiny (target h100 unless given). */
    static String refusal(String target, String... forced) {
        SearchOptions o = options(List.of(forced)).withTarget(target);
        return assertThrows(IllegalArgumentException.class, () -> Searcher.problem(prepared("resnet50-tiny"), o)).getMessage();
    }

    @Test void choicesThatCannotBeObeyedFailNamingTheNodeAndTheReason() {
        String m = refusal("h100", "conv1=cudnn.conv.fused_bias_ac");
        assertTrue(m.contains("forced choice 'conv1=cudnn.conv.fused_bias_ac'") && m.contains("unknown tactic 'cudnn.conv.fused_bias_ac'")
                && m.contains("cudnn.conv.fused_bias_act"), m);
        m = refusal("h100", "conv9=cpu.reference");
        assertTrue(m.contains("no node or op in graph 'resnet50-tiny' matches 'conv9'") && m.contains("Conv"), m);
        // the catalogue's own reasons
        m = refusal("h100", "maxpool=cudnn.conv.fused_bias_act");
        assertTrue(m.contains("node 'maxpool' (MaxPool)") && m.contains("cudnn.conv.fused_bias_act implements") && m.contains("not MaxPool"), m);
        m = refusal("h100", "layer1.0.conv1=tessel.conv.stem:fp32");
        assertTrue(m.contains("node 'layer1.0.conv1' (Conv)") && m.contains("tessel.conv.stem cannot run it at fp32") && m.contains("FP16 only"), m);
        m = refusal("h100", "layer4.0.conv2=tessel.conv.stem:fp16:nhwc");
        assertTrue(m.contains("node 'layer4.0.conv2' (Conv)") && m.contains("tessel.conv.stem cannot run it at fp16/nhwc:"), m);
        m = refusal("h100", "fc=cublaslt.gemm.bias_relu");
        assertTrue(m.contains("node 'fc' (Gemm)") && m.contains("cublaslt.gemm.bias_relu implements fused gemm_bias_act, not Gemm"), m);
        m = refusal("cpu", "conv1=cudnn.conv.fused_bias_act");
        assertTrue(m.contains("node 'conv1' (Conv)") && m.contains("GPU tactic") && m.contains("CPU tactics"), m);
        // a variant the tactic lacks, or one of a tactic whose builder picks its forms, is refused before solving
        m = refusal("h100", "conv1=cpu.reference/fast");
        assertTrue(m.contains("forced choice 'conv1=cpu.reference/fast'") && m.contains("cpu.reference has no variant 'fast'"), m);
        m = refusal("h100", "fc=tessel.gemv.weight_only/staged");
        assertTrue(m.contains("tessel.gemv.weight_only does not price its variants apart") && m.contains("force the tactic without one"), m);
        m = refusal("h100", "fc=cublaslt.gemm:fp16:nhwc");
        assertTrue(m.contains("node 'fc' (Gemm)") && m.contains("no image tensor"), m);
        // allowed precisions and precision rules are not overridden by a forced choice
        SearchOptions fp32only = SearchOptions.defaults().withPrecisions(EnumSet.of(Precision.FP32)).withForced(List.of(ForcedChoice.parse("conv1=cudnn.conv.fused_bias_act:fp16")));
        m = assertThrows(IllegalArgumentException.class, () -> Searcher.problem(prepared("resnet50-tiny"), fp32only)).getMessage();
        assertTrue(m.contains("node 'conv1' (Conv)") && m.contains("allowed precisions are [fp32]"), m);
        SearchOptions ruled = options(List.of("conv1=cudnn.conv.fused_bias_act:fp16")).withPrecisionRules(List.of(PrecisionRule.parse("conv1=fp32")));
        m = assertThrows(IllegalArgumentException.class, () -> Searcher.problem(prepared("resnet50-tiny"), ruled)).getMessage();
        assertTrue(m.contains("node 'conv1' (Conv)") && m.contains("precision rules [conv1=fp32]") && m.contains("forced choice [conv1=cudnn.conv.fused_bias_act:fp16]"), m);
        m = refusal("h100", "conv1=cudnn.conv.fused_bias_act:fp16", "Conv=cudnn.conv.fused_bias_act:fp32");
        assertTrue(m.contains("node 'conv1' (Conv)") && m.contains("contradict"), m);
    }
}

package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.search.EnginePlans;
import org.tessel.search.ForcedChoice;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Forced choices end to end: for every strategy the plan runs each forced node (or its group) with
 * the forced tactic, precision and layout, and the CPU engine built from that plan computes what
 * the reference interpreter computes (within the tolerance of the plan's least precise node);
 * `tessel build|search --force` and experiment configs obey them or fail in one line.
 */
class ForcedChoicesTest {
    /** Relative L2 tolerance by the least precise precision of a plan: about 20 roundings at its unit roundoff (see PlanExecutionPropertiesTest). */
    static final Map<Precision, Double> TOLERANCE = new EnumMap<>(Map.of(Precision.FP32, 1e-5, Precision.TF32, 20 * Precision.TF32.relativeError(),
            Precision.FP16, 20 * Precision.FP16.relativeError(), Precision.BF16, 20 * Precision.BF16.relativeError()));

    static final Map<String, List<String>> FORCED = Map.of(
            "resnet50-tiny", List.of("layer1.0.relu1=tessel.eltwise:fp16", "layer2.0.conv1=cudnn.conv.fused_bias_act:fp16:nhwc",
                    "maxpool=cpu.reference", "Softmax=tessel.softmax:bf16", "layer4.0.conv2=cudnn.conv.fused_bias_act:tf32:nchw"),
            "bert-tiny", List.of("encoder.layer.0.attention.self.softmax=tessel.softmax:fp32", "*intermediate.gelu=tessel.eltwise:bf16",
                    "encoder.layer.1.output.LayerNorm=tessel.layernorm:fp16", "pooler.dense=cublaslt.gemm:fp16"));

    @ParameterizedTest
    @CsvSource({"resnet50-tiny,joint", "resnet50-tiny,exact", "resnet50-tiny,timefold", "resnet50-tiny,greedy", "resnet50-tiny,sequential", "resnet50-tiny,rule",
            "bert-tiny,joint", "bert-tiny,exact", "bert-tiny,timefold", "bert-tiny,greedy", "bert-tiny,sequential", "bert-tiny,rule"})
    void theForcedPlanIsObeyedAndItsCpuEngineMatchesTheReference(String model, String strategy) {
        Graph g = Zoo.build(model, ZooOptions.defaults());
        List<ForcedChoice> forced = FORCED.get(model).stream().map(ForcedChoice::parse).toList();
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withSteps(50, 4000)
                .withPrecisions(EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16)).withForced(forced);
        Graph prepared = Searcher.prepare(g);
        SearchProblem p = Searcher.problem(prepared, o);
        PlanApplier.Applied a = EnginePlans.complete(p, Searcher.run(p, strategy, o));
        EnginePlan plan = a.plan();
        for (ForcedChoice f : forced) {
            int matched = 0;
            for (Node n : prepared.nodes()) {
                if (!f.matches(n)) continue;
                PlannedNode pn = computing(plan, n.name());
                assertTrue(f.admits(pn.tacticId(), pn.precision(), pn.layout()), strategy + ": " + n.describe() + " forced " + f.text() + ", planned "
                        + pn.node() + " " + pn.tacticId() + " " + pn.precision().text() + "/" + pn.layout().text() + "\n" + plan.render());
                matched++;
            }
            assertTrue(matched > 0, f.text());
        }
        Engine e = Engine.buildCpu(a.graph(), plan);
        List<Tensor> in = inputs(g);
        List<Tensor> want = new ReferenceInterpreter().run(g, in);
        List<Tensor> got = e.createContext().run(in);
        Precision least = plan.nodes().stream().map(PlannedNode::precision).max(Enum::compareTo).orElseThrow();
        for (int i = 0; i < want.size(); i++) {
            double err = relativeL2(want.get(i), got.get(i));
            assertTrue(err <= TOLERANCE.get(least), strategy + " output " + i + ": relative L2 " + err + " beyond " + least.text() + "'s " + TOLERANCE.get(least));
        }
    }

    /** Floats in [-1, 1); integers 0 or 1 (valid token ids and a valid attention mask: a mask of 9 overflows FP16 in BERT's -10000 scaling). */
    static List<Tensor> inputs(Graph g) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(42);
        List<Tensor> in = new ArrayList<>();
        for (org.tessel.ir.Value v : g.inputs()) {
            Tensor t = Tensor.zeros(v.type().dtype(), v.type().shape());
            for (int i = 0; i < t.size(); i++) t.setDouble(i, t.dtype().isFloating() ? r.nextDouble(-1, 1) : r.nextInt(2));
            in.add(t);
        }
        return in;
    }

    /** The planned node computing prepared node {@code name}: its group's, or its own. */
    static PlannedNode computing(EnginePlan plan, String name) {
        for (FusedGroup fg : plan.groups()) if (fg.members().contains(name)) return plan.node(fg.name());
        return plan.node(name);
    }

    static double relativeL2(Tensor want, Tensor got) {
        assertEquals(want.shape(), got.shape());
        double diff = 0, norm = 0;
        for (int i = 0; i < want.size(); i++) {
            double w = want.getDouble(i), x = got.getDouble(i);
            diff += (x - w) * (x - w);
            norm += w * w;
        }
        return Math.sqrt(diff) / Math.max(Math.sqrt(norm), Math.sqrt(want.size()));
    }

    @Test void buildAndSearchTakeForceAndObeyIt(@TempDir Path dir) throws Exception {
        Path engine = dir.resolve("e.engine"), planFile = dir.resolve("plan.json");
        CliRun b = CliRun.of("build", "zoo:resnet50-tiny", "--cpu", "--strategy", "greedy", "--fp16", "--save-engine", engine.toString(),
                "--force", "layer1.0.relu1=tessel.eltwise:fp16", "--force", "Conv=cudnn.conv.fused_bias_act:*:nhwc");
        assertEquals(0, b.code(), b.err());
        EnginePlan plan = Engine.load(engine, EngineHeader.Machine.cpu()).plan();
        PlannedNode relu = plan.node("layer1.0.relu1");
        assertEquals("tessel.eltwise", relu.tacticId(), plan.render());
        assertEquals(Precision.FP16, relu.precision());
        int convs = 0;
        java.util.Set<String> convGroups = new java.util.HashSet<>();
        for (FusedGroup fg : plan.groups()) if (fg.kind().equals("conv_bias_act")) convGroups.add(fg.name());
        for (PlannedNode n : plan.nodes())
            if (n.op().equals("Conv") || convGroups.contains(n.node())) {
                assertEquals("cudnn.conv.fused_bias_act", n.tacticId(), n.node());
                assertEquals(org.tessel.api.Layout.NHWC, n.layout(), n.node());
                convs++;
            }
        assertTrue(convs > 5, plan.render());

        CliRun s = CliRun.of("search", "zoo:bert-tiny", "--strategy", "joint", "--show-plan", "--plan-out", planFile.toString(),
                "--force", "encoder.layer.0.attention.self.softmax=tessel.softmax:fp16");
        assertEquals(0, s.code(), s.err());
        EnginePlan searched = org.tessel.tactics.plan.EnginePlanJson.read(Files.readString(planFile), planFile.toString());
        PlannedNode sm = searched.node("encoder.layer.0.attention.self.softmax");
        assertEquals("tessel.softmax", sm.tacticId(), "the attention group that held the softmax is not fused: " + searched.render());
        assertEquals(Precision.FP16, sm.precision());
        assertTrue(s.out().contains("encoder.layer.0.attention.self.softmax") && s.out().contains("tessel.softmax"), s.out());
    }

    @Test void aForcedChoiceThatCannotBeObeyedFailsInOneLine(@TempDir Path dir) {
        String e = dir.resolve("e.engine").toString();
        List<String[]> cases = new ArrayList<>();
        cases.add(new String[] {"--force", "maxpool=cudnn.conv.fused_bias_act", "node 'maxpool' (MaxPool)", "cudnn.conv.fused_bias_act implements"});
        cases.add(new String[] {"--force", "conv1=cudnn.conv.fused_bias_act:fp16", "node 'conv1' (Conv)", "allowed precisions are [fp32]"});
        cases.add(new String[] {"--force", "conv1=cudnn.conv.nope", "unknown tactic 'cudnn.conv.nope'", "forced choice 'conv1=cudnn.conv.nope'"});
        cases.add(new String[] {"--force", "conv1=cudnn.conv.fused_bias_act:fp17", "unknown precision 'fp17'", "forced choice"});
        cases.add(new String[] {"--force", "nothing*=cpu.reference", "matches 'nothing*'", "resnet50-tiny"});
        for (String[] c : cases) {
            CliRun r = CliRun.of("build", "zoo:resnet50-tiny", "--cpu", "--strategy", "joint", "--save-engine", e, c[0], c[1]);
            assertEquals(2, r.code(), c[1] + ": " + r.out());
            assertTrue(r.err().contains(c[2]) && r.err().contains(c[3]) && r.err().strip().lines().count() == 1 && !r.err().contains("\tat "), c[1] + ": " + r.err());
            assertTrue(!Files.exists(Path.of(e)), "nothing written");
        }
        CliRun noSearch = CliRun.of("build", "zoo:resnet50-tiny", "--cpu", "--save-engine", e, "--force", "conv1=cpu.reference");
        assertEquals(2, noSearch.code());
        assertTrue(noSearch.err().contains("--force steers a search: add --strategy"), noSearch.err());
    }

    @Test void experimentConfigsTakeForcedChoices(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("forced.yaml");
        Files.writeString(cfg, """
                name: forced
                models: [resnet50-tiny]
                strategies: [greedy, exact]
                random_samples: 10
                force: ["layer1.0.relu1=tessel.eltwise:fp16", "maxpool=cpu.reference"]
                """);
        CliRun r = CliRun.of("experiment", cfg.toString(), "--out", dir.resolve("out").toString());
        assertEquals(0, r.code(), r.err());
        String csv = Files.readString(dir.resolve("out/results.csv"));
        assertEquals(3, csv.strip().lines().count(), csv);
        assertTrue(csv.lines().skip(1).allMatch(l -> l.contains(",true,")), "both runs feasible: " + csv);
        // the forced plans differ from the free ones: the relu's group is gone, the pool pays the host round trip
        Path free = dir.resolve("free.yaml");
        Files.writeString(free, Files.readString(cfg).replaceAll("(?m)^force:.*$", "").replace("name: forced", "name: free"));
        assertEquals(0, CliRun.of("experiment", free.toString(), "--out", dir.resolve("free").toString()).code());
        double forcedMs = Double.parseDouble(csv.lines().skip(1).findFirst().orElseThrow().split(",")[7]);
        double freeMs = Double.parseDouble(Files.readString(dir.resolve("free/results.csv")).lines().skip(1).findFirst().orElseThrow().split(",")[7]);
        assertTrue(forcedMs > freeMs, "forcing slower choices costs predicted time: " + forcedMs + " vs " + freeMs);

        Files.writeString(cfg, "models: [resnet50-tiny]\nstrategies: [greedy]\nforce: [\"conv1=cudnn.conv.fused_bias_ac\"]\n");
        CliRun bad = CliRun.of("experiment", cfg.toString(), "--out", dir.resolve("bad").toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains(cfg + ": key 'force': forced choice 'conv1=cudnn.conv.fused_bias_ac': unknown tactic"), bad.err());
        Files.writeString(cfg, "models: [resnet50-tiny]\nstrategies: [greedy]\nforce: [\"conv1=cpu.reference:fp99\"]\n");
        bad = CliRun.of("experiment", cfg.toString(), "--out", dir.resolve("bad").toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains(cfg + ": key 'force': forced choice 'conv1=cpu.reference:fp99': unknown precision 'fp99'"), bad.err());
    }
}

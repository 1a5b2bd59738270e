package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.EnginePlanJson;

/**
 * `tessel build --strategy / --plan` on the CPU backend: the plan `tessel search --plan-out` prints
 * is the plan the engine stores; the same seed gives the same engine bytes; forced precisions are
 * obeyed or refused naming the node; a bad plan file is one line naming the file and entry.
 */
class BuildPlanCommandTest {
    private static CliRun run(String... args) { return CliRun.of(args); }

    @Test void searchedPlanIsTheBuiltPlanAndTheSameSeedGivesTheSameBytes(@TempDir Path dir) throws Exception {
        Path plan = dir.resolve("plan.json"), a = dir.resolve("a.engine"), b = dir.resolve("b.engine"), c = dir.resolve("c.engine");
        CliRun s = run("search", "zoo:bert-tiny", "--target", "h200-measured", "--strategy", "greedy", "--precisions", "fp16", "--plan-out", plan.toString());
        assertEquals(0, s.code(), s.err());
        CliRun r = run("build", "zoo:bert-tiny", "--cpu", "--plan", plan.toString(), "--save-engine", a.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("plan " + plan) && r.out().strip().endsWith("s") && r.out().contains("engine: " + a), r.out());
        EnginePlan searched = EnginePlanJson.read(Files.readString(plan), plan.toString());
        assertEquals(searched, Engine.load(a, EngineHeader.Machine.cpu()).plan(), "the engine stores the plan it was built from");
        assertTrue(searched.precisionMix().containsKey(org.tessel.cost.Precision.FP16), "greedy with fp16 allowed uses it: " + searched.precisionMix());

        assertEquals(0, run("build", "zoo:bert-tiny", "--cpu", "--strategy", "greedy", "--fp16", "--save-engine", b.toString()).code());
        assertEquals(0, run("build", "zoo:bert-tiny", "--cpu", "--strategy", "greedy", "--fp16", "--save-engine", c.toString()).code());
        assertArrayEquals(Files.readAllBytes(b), Files.readAllBytes(c), "same model, strategy and seed: identical engine bytes");
    }

    /** A plan with horizontal merges: printed, written, built on the CPU backend, stored in the engine, and the engine computes the model. */
    @Test void aPlanWithHorizontalMergesBuildsAndRunsLikeTheModel(@TempDir Path dir) throws Exception {
        Path plan = dir.resolve("plan.json"), e = dir.resolve("g.engine");
        CliRun s = run("search", "zoo:googlenet-tiny", "--strategy", "joint", "--precisions", "fp16", "--show-plan", "--plan-out", plan.toString());
        assertEquals(0, s.code(), s.err());
        assertTrue(s.out().contains("horizontal merges: 9 of 9") && s.out().contains("\nmerge inception3a.branch1.conv_merged (conv): "), s.out());
        EnginePlan searched = EnginePlanJson.read(Files.readString(plan), plan.toString());
        assertEquals(9, searched.merges().size());
        CliRun b = run("build", "zoo:googlenet-tiny", "--cpu", "--plan", plan.toString(), "--save-engine", e.toString());
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().contains(", 9 merges, "), b.out());
        Engine engine = Engine.load(e, EngineHeader.Machine.cpu());
        assertEquals(searched, engine.plan());
        org.tessel.ir.Graph g = org.tessel.ir.zoo.Zoo.build("googlenet-tiny", org.tessel.ir.zoo.ZooOptions.defaults());
        java.util.List<org.tessel.api.Tensor> in = SearchPlanExecutionTest.inputs(g, 5);
        java.util.List<org.tessel.api.Tensor> want = new org.tessel.ir.ReferenceInterpreter().run(g, in), got = engine.createContext().run(in);
        for (int k = 0; k < want.size(); k++)
            assertTrue(SearchPlanExecutionTest.relativeL2(want.get(k), got.get(k)) <= SearchPlanExecutionTest.tolerance(org.tessel.cost.Precision.FP16), "output " + k);
    }

    @Test void forcedPrecisionIsObeyedOrTheBuildFailsNamingTheNode(@TempDir Path dir) throws Exception {
        Path e = dir.resolve("e.engine");
        CliRun ok = run("build", "zoo:bert-tiny", "--cpu", "--strategy", "joint", "--fp16", "--precision", "Softmax=fp16", "--save-engine", e.toString());
        assertEquals(0, ok.code(), ok.err());
        EnginePlan p = Engine.load(e, EngineHeader.Machine.cpu()).plan();
        assertTrue(p.nodes().stream().filter(n -> n.op().equals("Softmax")).allMatch(n -> n.precision() == org.tessel.cost.Precision.FP16), p.render());
        CliRun bad = run("build", "zoo:bert-tiny", "--cpu", "--strategy", "joint", "--precision", "Softmax=fp16", "--save-engine", e.toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("Softmax") && bad.err().contains("fp16") && !bad.err().contains("\tat "), bad.err());
    }

    @Test void aBadPlanFileIsOneLineNamingTheFileAndNode(@TempDir Path dir) throws Exception {
        Path plan = dir.resolve("plan.json");
        assertEquals(0, run("search", "zoo:resnet50-tiny", "--strategy", "rule", "--plan-out", plan.toString()).code());
        String text = Files.readString(plan);
        String first = EnginePlanJson.read(text, "x").nodes().get(1).node();
        Files.writeString(plan, text.replaceFirst("\"tactic\" : \"[^\"]*\"", "\"tactic\" : \"cudnn.conv.not_a_tactic\""));
        CliRun r = run("build", "zoo:resnet50-tiny", "--cpu", "--plan", plan.toString(), "--save-engine", dir.resolve("e.engine").toString());
        assertEquals(2, r.code(), r.out());
        assertTrue(r.err().contains("unknown tactic 'cudnn.conv.not_a_tactic'") && r.err().strip().lines().count() == 1, r.err());
        Files.writeString(plan, "{ \"plan_version\": 7 }");
        r = run("build", "zoo:resnet50-tiny", "--cpu", "--plan", plan.toString(), "--save-engine", dir.resolve("e.engine").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains(plan + ": plan_version 7 is not supported"), r.err());
        assertTrue(first != null);
    }
}

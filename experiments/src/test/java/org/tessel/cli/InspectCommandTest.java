package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.Backend;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.EnginePlanJson;
import org.tessel.tactics.plan.PlannedNode;

/** `tessel inspect`: the plan of a CPU engine built from a plan, as text and JSON, measured; a GPU file without a GPU; bad files. */
class InspectCommandTest {
    @TempDir Path dir;

    private static CliRun run(String... args) { return CliRun.of(args); }

    /** The optimized tiny ResNet with the reference plan, except that every node some GPU tactic runs at FP16 gets that tactic there. */
    private static Engine plannedEngine(Graph g) {
        List<PlannedNode> ns = new ArrayList<>();
        int k = 0;
        for (PlannedNode p : Engine.referencePlan(g).nodes()) {
            Node n = g.nodes().get(k++);
            List<Tactic> fp16 = TacticCatalog.global().supported(n, Precision.FP16, p.layout()).stream().filter(t -> t.backend() == org.tessel.tactics.Backend.GPU).toList();
            ns.add(fp16.isEmpty() ? p : new PlannedNode(p.node(), p.op(), fp16.getFirst().id(), "v" + k, Precision.FP16, p.layout(), k % 2, 10 + k));
        }
        EnginePlan plan = new EnginePlan(g.name(), "greedy", "h100", 7, List.of(), ns, List.of(), 1234.5, 1000);
        return Engine.buildCpu(g, plan);
    }

    private static Graph tinyResNet() {
        Graph g = Zoo.build("resnet50-tiny", ZooOptions.defaults());
        new PassManager().run(g, StandardPipelines.STANDARD);
        return g;
    }

    @Test void jsonHasTheWholePlanAndEveryLayerWithItsMeasuredTime() throws Exception {
        Graph g = tinyResNet();
        Engine e = plannedEngine(g);
        Path f = dir.resolve("r.engine");
        e.save(f);
        CliRun r = run("inspect", f.toString(), "--json", "--profile", "2");
        assertEquals(0, r.code(), r.err());
        JsonNode root = new ObjectMapper().readTree(r.out());
        assertEquals("cpu", root.path("header").path("backend").asText());
        assertEquals(e.plan(), EnginePlanJson.read(root.get("plan").toString(), "inspect output"));
        assertEquals(2, root.get("profiled_runs").asInt());
        JsonNode layers = root.get("layers");
        assertEquals(g.nodes().size(), layers.size());
        for (int i = 0; i < g.nodes().size(); i++) {
            JsonNode l = layers.get(i);
            PlannedNode p = e.plan().nodes().get(i);
            assertEquals(g.nodes().get(i).name(), l.get("node").asText());
            assertEquals(p.tactic(), l.get("tactic").asText());
            assertEquals(p.precision().text(), l.get("precision").asText());
            assertEquals(p.stream(), l.get("stream").asInt());
            assertTrue(l.get("measured_us").isNumber() && l.get("measured_us").asDouble() >= 0, l.toString());
        }
        assertTrue(r.out().contains("\"tactic\" : \"cudnn.") || r.out().contains("\"tactic\" : \"tessel."), "GPU tactics are listed as planned");
    }

    @Test void textListsEveryLayerWithTacticPrecisionAndMeasuredTime() throws Exception {
        Graph g = tinyResNet();
        Engine e = plannedEngine(g);
        Path f = dir.resolve("t.engine");
        e.save(f);
        CliRun r = run("inspect", f.toString(), "--profile", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("engine " + f + ": backend cpu, GPU architecture none, format 1, libraries {tessel="), r.out());
        assertTrue(r.out().contains("plan: model " + g.name() + ", strategy greedy, target h100, seed 7, predicted 1.2345 ms, bound 1.0000 ms"), r.out());
        for (PlannedNode p : e.plan().nodes()) {
            String line = r.out().lines().filter(s -> s.startsWith(p.node() + " ")).findFirst().orElseThrow(() -> new AssertionError("no line for " + p.node() + ":\n" + r.out()));
            assertTrue(line.contains(" " + p.tactic() + " ") && line.contains(" " + p.precision().text() + " "), line);
            assertFalse(line.strip().endsWith(" -"), "a measured time: " + line);
        }
        assertTrue(r.out().contains("measured: 1 runs"), r.out());
    }

    @Test void aGpuEngineWithoutAGpuShowsThePlanAndSaysMeasuringNeedsTheGpu() throws Exception {
        Assumptions.assumeFalse(Backend.detect() instanceof Backend.Gpu, "this machine has a GPU");
        Graph g = tinyResNet();
        Engine cpu = plannedEngine(g);
        EngineHeader h = new EngineHeader(EngineHeader.FORMAT_VERSION, "cuda", "sm_90", Map.of("tessel", EngineHeader.TESSEL_VERSION, "cudnn", "91400"), 0, new byte[32]);
        Path f = dir.resolve("gpu.engine");
        Engine.of(h, g, cpu.layers(), cpu.memoryPlan(), cpu.arenaBytes(), Map.of("meta/precision", "FP16".getBytes(StandardCharsets.UTF_8)), cpu.plan()).save(f);
        CliRun r = run("inspect", f.toString(), "--profile", "3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("backend cuda, GPU architecture sm_90"), r.out());
        assertTrue(r.out().contains("note: measuring a cuda engine needs its GPU (sm_90), and this machine has none"), r.out());
        for (PlannedNode p : cpu.plan().nodes()) assertTrue(r.out().contains(p.node() + " "), p.node());
        CliRun j = run("inspect", f.toString(), "--json", "--profile", "3");
        JsonNode root = new ObjectMapper().readTree(j.out());
        assertTrue(root.get("measure_note").asText().contains("needs its GPU"), j.out());
        assertTrue(root.get("layers").get(0).get("measured_us").isNull());
    }

    @Test void missingAndCorruptFilesAreOneLineNamingTheFile() throws Exception {
        Path missing = dir.resolve("nope.engine");
        CliRun r = run("inspect", missing.toString());
        assertEquals(2, r.code());
        assertEquals("tessel inspect: " + missing + ": no such engine file", r.err().strip());

        Path f = dir.resolve("c.engine");
        Engine.buildCpu(tinyResNet()).save(f);
        byte[] b = Files.readAllBytes(f);
        b[b.length - 7] ^= 0x10;
        Files.write(f, b);
        r = run("inspect", f.toString(), "--json");
        assertEquals(2, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("tessel inspect: " + f + ": checksum mismatch"), r.err());
        assertEquals("", r.out());
    }
}

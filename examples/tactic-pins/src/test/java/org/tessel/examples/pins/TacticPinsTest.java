package org.tessel.examples.pins;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Attributes;
import org.tessel.api.Layout;
import org.tessel.api.select.Algorithm;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.api.select.NodeView;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlannedNode;

/** The selector's rules on hand-made candidates, and in the search: exclusions and pins hold in every strategy's plan, the report is the plan. */
class TacticPinsTest {
    @TempDir Path dir;

    static Algorithm a(String tactic) { return new Algorithm(tactic, "fp32", Layout.NCHW, 1, OptionalDouble.empty(), 0); }

    static NodeView node(String name, String op, List<String> members, List<String> body) {
        return new NodeView(name, op, List.of(), List.of(), Attributes.empty(), members, body);
    }

    static AlgorithmSelector pins(Map<String, String> options) { return new TacticPins().configure(options); }

    @Test void excludesAndPinsOnCandidates() {
        List<Algorithm> cs = List.of(a("cudnn.conv.fused_bias_act"), a("tessel.conv.stem"), a("cpu.reference"));
        AlgorithmSelector s = pins(Map.of("exclude", "cpu.*|tessel.conv.stem"));
        assertEquals(List.of(a("cudnn.conv.fused_bias_act")), s.selectAlgorithms(node("conv1", "Conv", List.of("conv1"), List.of()), cs));
        AlgorithmSelector p = pins(Map.of("pin", "layer1.*@cpu.reference"));
        assertEquals(List.of(a("cpu.reference")), p.selectAlgorithms(node("layer1.0.conv1", "Conv", List.of("layer1.0.conv1"), List.of()), cs));
        assertEquals(cs, p.selectAlgorithms(node("conv1", "Conv", List.of("conv1"), List.of()), cs), "a pin leaves other nodes alone");
        // a group is pinned through its members
        assertEquals(List.of(a("cpu.reference")), p.selectAlgorithms(node("layer1.0.conv1+1", "tessel.Fused", List.of("layer1.0.conv1", "layer1.0.relu1"), List.of("Conv", "Relu")), cs));
        // by op
        assertEquals(List.of(), pins(Map.of("pin", "Conv@tessel.gemm*")).selectAlgorithms(node("c", "Conv", List.of("c"), List.of()), cs));
        assertTrue(new TacticPins().selectAlgorithms(node("c", "Conv", List.of("c"), List.of()), cs).equals(cs), "unconfigured it keeps everything");
    }

    @Test void badOptionsSayWhatIsWrong() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> pins(Map.of("speed", "11"))).getMessage().contains("unknown option 'speed'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> pins(Map.of("pin", "conv1"))).getMessage().contains("pin 'conv1' is not NODE_GLOB@TACTIC_GLOB"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> pins(Map.of("exclude", "|"))).getMessage().contains("exclude needs at least one pattern"));
    }

    /** Through the search: found on the class path by name (as a jar's selector is found with --plugins), obeyed by every strategy, told the plan. */
    @Test void everyStrategysPlanObeysAndIsReported() throws Exception {
        Path report = dir.resolve("plan.tsv");
        AlgorithmSelector s = org.tessel.plugins.Plugins.none().selector("tactic-pins:exclude=tessel.pool.*,pin=layer1.*@cpu.reference,report=" + report);
        SearchOptions o = SearchOptions.defaults().withSteps(50, 3000).withSelectors(List.of(s));
        SearchProblem p = Searcher.problem(Searcher.prepare(Zoo.build("resnet50-tiny", ZooOptions.defaults())), o);
        for (String strategy : List.of("joint", "exact", "timefold", "greedy", "sequential", "rule")) {
            EnginePlan plan = EnginePlans.complete(p, Searcher.run(p, strategy, o)).plan();
            int pinned = 0;
            for (PlannedNode n : plan.nodes()) {
                assertTrue(!n.tacticId().startsWith("tessel.pool."), strategy + ": " + n.node() + " runs an excluded tactic\n" + plan.render());
                FusedGroup g = plan.group(n.node());
                boolean layer1 = n.node().startsWith("layer1.") || g != null && g.members().stream().anyMatch(m -> m.startsWith("layer1."));
                if (layer1) { assertEquals("cpu.reference", n.tacticId(), strategy + ": " + n.node()); pinned++; }
            }
            assertTrue(pinned >= 3, strategy + "\n" + plan.render());
            List<String> rows = Files.readAllLines(report).stream().filter(l -> !l.startsWith("#")).toList();
            assertEquals(plan.nodes().size(), rows.size(), strategy);
            for (int i = 0; i < rows.size(); i++) {
                String[] f = rows.get(i).split("\t");
                assertEquals(plan.nodes().get(i).node(), f[0]);
                assertEquals(plan.nodes().get(i).tacticId(), f[2]);
            }
            Files.delete(report);
        }
    }
}

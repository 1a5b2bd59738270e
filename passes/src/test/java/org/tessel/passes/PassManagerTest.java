package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

class PassManagerTest {
    static Graph small() {
        NetworkBuilder b = new NetworkBuilder("small");
        Value x = b.input("x", DType.F32, 2, 3);
        Value c = b.constant("c", Shape.of(3), 1, 2, 3);
        Value y = b.relu(b.add(x, c));
        b.relu(x); // dead
        return b.output(y).build();
    }

    @Test void parsesPipelinesWithOptionsAndFixpoints() {
        Pipeline p = Pipeline.parse("fold-constants{max-elements=10}, fixpoint(cse,dce){max-iterations=3},dce");
        assertEquals("fold-constants{max-elements=10},fixpoint(cse,dce){max-iterations=3},dce", p.toString());
        PassException e = assertThrows(PassException.class, () -> Pipeline.parse("dce,,cse"));
        assertEquals("pipeline 'dce,,cse', column 5: expected a pass name, found ','", e.getMessage());
        e = assertThrows(PassException.class, () -> Pipeline.parse("fixpoint(dce"));
        assertTrue(e.getMessage().contains("expected ')' to close fixpoint("), e.getMessage());
    }

    @Test void unknownPassListsKnownOnesAndSuggests() {
        PassException e = assertThrows(PassException.class, () -> new PassManager().run(small(), "dce,fold-constant"));
        assertTrue(e.getMessage().startsWith("unknown pass 'fold-constant' (did you mean 'fold-constants'?); known passes: "), e.getMessage());
        assertTrue(e.getMessage().contains("cse"), e.getMessage());
    }

    @Test void unknownOptionIsRefusedWithTheOptionsList() {
        PassException e = assertThrows(PassException.class, () -> new PassManager().run(small(), "fold-constants{max=3}"));
        assertEquals("pass 'fold-constants' has no option 'max'; its options: [max-elements]", e.getMessage());
    }

    @Test void illegalOrderIsRefusedBeforeAnythingRuns() {
        Pass needsFolded = new TestPass("needs-bn-folded", GraphProperty.BATCHNORM_FOLDED);
        PassManager pm = new PassManager(PassRegistry.global().with(needsFolded), OpRegistry.global());
        Graph g = small();
        int before = g.nodes().size();
        PassException e = assertThrows(PassException.class, () -> pm.run(g, "dce,needs-bn-folded"));
        assertEquals("pipeline order: pass 'needs-bn-folded' requires BATCHNORM_FOLDED, which no earlier pass establishes (earlier: dce); run one of [fold-batchnorm] before it", e.getMessage());
        assertEquals(before, g.nodes().size(), "nothing ran");
        pm.run(g, "fold-batchnorm,needs-bn-folded");
    }

    @Test void namesThePassThatBrokeTheGraph() {
        Pass breaker = new Pass() {
            @Override public PassInfo info() { return PassInfo.named("breaker", "removes a used node").build(); }
            @Override public boolean run(Graph g, PassContext ctx) { g.removeNode(g.nodes().get(0)); return true; }
        };
        PassManager pm = new PassManager(PassRegistry.global().with(breaker), OpRegistry.global());
        PassException e = assertThrows(PassException.class, () -> pm.run(small(), "dce,breaker"));
        assertTrue(e.getMessage().startsWith("pass 'breaker' broke the graph 'small':"), e.getMessage());
        assertTrue(e.getMessage().contains("is not defined in this graph"), e.getMessage());
    }

    @Test void instrumentationSeesEveryPassAndSkipBisects() {
        List<String> seen = new ArrayList<>();
        PassManager pm = new PassManager().instrument(new PassInstrumentation() {
            @Override public void afterPass(PassInfo p, Graph g, PassManager.PassRun run) { seen.add(p.name() + ":" + run.nodesBefore() + "->" + run.nodesAfter()); }
        }).skip("cse");
        pm.run(small(), "cse,dce");
        assertEquals(List.of("dce:3->2"), seen);
    }

    @Test void fixpointStopsWhenNothingChangesAndWarnsAtTheCap() {
        Pass alwaysChanges = new Pass() {
            @Override public PassInfo info() { return PassInfo.named("churn", "claims a change every time").notIdempotent().build(); }
            @Override public boolean run(Graph g, PassContext ctx) { return true; }
        };
        PassManager pm = new PassManager(PassRegistry.global().with(alwaysChanges), OpRegistry.global());
        PassManager.Report r = pm.run(small(), "fixpoint(dce,cse){max-iterations=4}");
        assertEquals(4, r.runs().size(), "dce changes once, then one quiet iteration: " + r.runs());
        r = pm.run(small(), "fixpoint(churn){max-iterations=3}");
        assertEquals(3, r.runs().size());
        assertEquals(1, r.warnings().size());
        assertThrows(PassException.class, () -> pm.failOnNonConvergence(true).run(small(), "fixpoint(churn){max-iterations=3}"));
    }

    @Test void everyBuiltinPassIsRegisteredNamedAndDocumented() {
        for (Pass p : PassRegistry.global().all()) {
            assertFalse(p.info().summary().isBlank(), p.info().name());
            for (PassOption o : p.info().options()) assertFalse(o.help().isBlank(), p.info().name() + "." + o.name());
            for (PassStatistic st : p.info().statistics()) assertFalse(st.help().isBlank(), p.info().name() + " statistic " + st.name());
            assertEquals(0, java.util.Arrays.stream(p.getClass().getDeclaredFields())
                    .filter(f -> java.lang.reflect.Modifier.isStatic(f.getModifiers()) && !java.lang.reflect.Modifier.isFinal(f.getModifiers())).count(),
                    p.info().name() + " has mutable static state");
        }
        assertTrue(PassRegistry.global().names().containsAll(List.of("dce", "cse", "fold-constants", "remove-identities", "fold-batchnorm", "fold-bias-add", "fuse", "plan-memory", "assign-streams")));
    }

    record TestPass(String name, GraphProperty required) implements Pass {
        @Override public PassInfo info() { return PassInfo.named(name, "test pass").requires(required).build(); }
        @Override public boolean run(Graph g, PassContext ctx) { return false; }
    }

    static Map<String, Tensor> in(String name, Tensor t) { return Map.of(name, t); }

    static Node only(Graph g, String op) {
        return g.nodes().stream().filter(n -> n.opName().equals(op)).findFirst().orElseThrow();
    }
}

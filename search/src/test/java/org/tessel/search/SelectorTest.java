package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.select.Algorithm;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.api.select.ChosenAlgorithm;
import org.tessel.api.select.NodeView;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.domain.Choice;
import org.tessel.tactics.BuiltinTactics;
import org.tessel.tactics.StreamingTactic;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.TacticProvider;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Algorithm selectors: they see every node's and every fusion candidate's candidates (with the
 * measured time where a timing cache has one), what they keep is all the search may use, their
 * order breaks price ties, every strategy's plan is reported to them, and a selector that
 * misbehaves fails the search naming itself and the node.
 */
class SelectorTest {
    /** A selector from a function, recording what it was offered and told. */
    static final class Recording implements AlgorithmSelector {
        final String name;
        final BiFunction<NodeView, List<Algorithm>, List<Algorithm>> select;
        final List<NodeView> seen = new ArrayList<>();
        final List<List<Algorithm>> offered = new ArrayList<>();
        List<ChosenAlgorithm> reported;
        int reports;

        Recording(String name, BiFunction<NodeView, List<Algorithm>, List<Algorithm>> select) {
            this.name = name;
            this.select = select;
        }

        @Override public String name() { return name; }

        @Override public List<Algorithm> selectAlgorithms(NodeView node, List<Algorithm> candidates) {
            seen.add(node);
            offered.add(candidates);
            return select.apply(node, candidates);
        }

        @Override public void reportAlgorithms(List<ChosenAlgorithm> choices) {
            reported = choices;
            reports++;
        }
    }

    static Graph resnetTiny() { return Searcher.prepare(Zoo.build("resnet50-tiny", ZooOptions.defaults())); }

    static SearchOptions options(AlgorithmSelector... s) {
        return SearchOptions.defaults().withSteps(50, 3000).withSelectors(List.of(s));
    }

    @Test void excludingATacticRemovesItFromEveryNodeAndGroupOfEveryPlan() {
        Recording noCudnn = new Recording("no-cudnn", (n, cs) -> cs.stream().filter(a -> !a.tactic().startsWith("cudnn.")).toList());
        SearchOptions o = options(noCudnn);
        SearchProblem p = Searcher.problem(resnetTiny(), o);
        for (SearchProblem.Node n : p.nodes()) assertTrue(n.choices().stream().noneMatch(c -> c.tacticId().startsWith("cudnn.")), n.name());
        for (SearchProblem.Candidate c : p.candidates()) assertTrue(c.fused().values().stream().noneMatch(f -> f.tacticId().startsWith("cudnn.")), c.kind());
        assertTrue(noCudnn.seen.stream().anyMatch(NodeView::fused), "fusion candidates are offered too");
        NodeView group = noCudnn.seen.stream().filter(v -> v.fused() && v.members().contains("layer1.0.conv1")).findFirst().orElseThrow();
        assertEquals("tessel.Fused", group.op());
        assertEquals(List.of("layer1.0.conv1", "layer1.0.relu1"), group.members());
        assertEquals(List.of("Conv", "Relu"), group.bodyOps());
        assertEquals("conv_bias_act", group.attributes().getString("kind", null));
        NodeView conv = noCudnn.seen.stream().filter(v -> v.name().equals("layer1.0.conv1")).findFirst().orElseThrow();
        assertEquals("Conv", conv.op());
        assertEquals(3, conv.inputs().size());
        assertEquals(4, conv.outputs().getFirst().rank());
        for (String s : List.of("joint", "exact", "timefold", "greedy", "sequential", "rule")) {
            int before = noCudnn.reports;
            Plan plan = Searcher.run(p, s, o);
            assertEquals(before + 1, noCudnn.reports, s + ": the plan is reported");
            PlanApplier.Applied a = EnginePlans.complete(p, plan);
            assertTrue(a.plan().nodes().stream().noneMatch(n -> n.tacticId().startsWith("cudnn.")), s + "\n" + a.plan().render());
            // the report is the plan, node by node
            assertEquals(a.plan().nodes().size(), noCudnn.reported.size(), s);
            for (int i = 0; i < a.plan().nodes().size(); i++) {
                PlannedNode pn = a.plan().nodes().get(i);
                ChosenAlgorithm r = noCudnn.reported.get(i);
                assertEquals(pn.node(), r.node().name());
                assertEquals(pn.tacticId(), r.algorithm().tactic());
                assertEquals(pn.precision().text(), r.algorithm().precision());
                assertEquals(pn.layout(), r.algorithm().layout());
            }
        }
    }

    @Test void candidatesArriveFastestFirstAndAPinnedPrecisionIsAllTheSearchSees() {
        Recording fp16Convs = new Recording("fp16-convs", (n, cs) -> n.op().equals("Conv") || n.bodyOps().contains("Conv")
                ? cs.stream().filter(a -> a.precision().equals("fp16")).toList() : cs);
        SearchOptions o = options(fp16Convs);
        SearchProblem p = Searcher.problem(resnetTiny(), o);
        for (List<Algorithm> cs : fp16Convs.offered)
            for (int i = 1; i < cs.size(); i++) assertTrue(cs.get(i - 1).timeUs() <= cs.get(i).timeUs(), "fastest first: " + cs);
        PlanApplier.Applied a = EnginePlans.complete(p, Searcher.run(p, "exact", o));
        int convs = 0;
        for (PlannedNode n : a.plan().nodes()) {
            Node g = a.graph().nodes().stream().filter(x -> x.name().equals(n.node())).findFirst().orElseThrow();
            boolean conv = g.opName().equals("Conv") || g.body() != null && g.body().nodes().stream().anyMatch(b -> b.opName().equals("Conv"));
            if (conv) { assertEquals(Precision.FP16, n.precision(), n.node()); convs++; }
        }
        assertTrue(convs >= 10, a.plan().render());
    }

    @Test void misbehavingSelectorsFailNamingThemselvesAndTheNode() {
        Graph g = resnetTiny();
        var e = assertThrows(IllegalArgumentException.class, () -> Searcher.problem(g, options(new Recording("pool-hater",
                (n, cs) -> n.op().equals("MaxPool") ? List.of() : cs))));
        assertTrue(e.getMessage().contains("selector 'pool-hater' kept no candidate for node 'maxpool' (MaxPool) in graph 'resnet50-tiny'")
                && e.getMessage().contains("offered: tessel.pool.max"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Searcher.problem(g, options(new Recording("inventor",
                (n, cs) -> List.of(new Algorithm("my.kernel", "fp32", Layout.NCHW, 1, java.util.OptionalDouble.empty(), 0))))));
        assertTrue(e.getMessage().contains("selector 'inventor' returned my.kernel fp32/nchw for node") && e.getMessage().contains("which it was not offered"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Searcher.problem(g, options(new Recording("thrower", (n, cs) -> {
            if (n.name().equals("fc")) throw new IllegalStateException("no gemms today");
            return cs;
        }))));
        assertTrue(e.getMessage().contains("selector 'thrower' failed on node 'fc' (Gemm) in graph 'resnet50-tiny': IllegalStateException: no gemms today"), e.getMessage());
        // a fusion candidate left with nothing is simply not fused
        Recording noGroups = new Recording("no-groups", (n, cs) -> n.fused() ? List.of() : cs);
        SearchProblem p = Searcher.problem(g, options(noGroups));
        assertTrue(p.candidates().isEmpty());
        assertEquals(0, Searcher.run(p, "greedy", options(noGroups)).fusedGroups());
    }

    /** Two equally priced Relu tactics: the selector's order decides between them, where the catalogue's id order did before. */
    @Test void theSelectorsOrderBreaksPriceTies() {
        TacticProvider twins = () -> List.<Tactic>of(twin("test.relu.a"), twin("test.relu.b"));
        TacticCatalog catalog = TacticCatalog.load(List.of(new BuiltinTactics(), twins));
        NetworkBuilder b = new NetworkBuilder("relu", org.tessel.api.OpRegistry.global(), 1);
        Value x = b.input("x", DType.F32, 64, 4096);
        b.output(b.relu(x));
        Graph g = b.build();
        Costing costing = new CatalogCosting(catalog, new CostModel(DeviceSpec.byName("h100")), false);
        int relu = 0;
        Recording twinsOnly = new Recording("twins", (n, cs) -> cs.stream().filter(a -> a.tactic().startsWith("test.relu.")).toList());
        SearchProblem plain = Searcher.problem(g, costing, SearchOptions.defaults().withSelectors(List.of(twinsOnly)));
        List<Algorithm> twinsOffered = twinsOnly.offered.getFirst().stream().filter(a -> a.tactic().startsWith("test.relu.")).toList();
        assertEquals(List.of("test.relu.a", "test.relu.b"), twinsOffered.stream().map(Algorithm::tactic).toList());
        assertEquals(twinsOffered.get(0).predictedUs(), twinsOffered.get(1).predictedUs(), "a tie");
        Choice first = plain.node(relu).searchChoices().getFirst();
        assertEquals("test.relu.a", first.tacticId(), "in the selector's order a comes first: " + plain.node(relu).searchChoices());
        Recording reverse = new Recording("reverse", (n, cs) -> cs.stream().filter(a -> a.tactic().startsWith("test.relu.")).toList().reversed());
        SearchProblem reversed = Searcher.problem(g, costing, SearchOptions.defaults().withSelectors(List.of(reverse)));
        assertEquals(List.of("test.relu.b"), reversed.node(relu).searchChoices().stream().map(Choice::tacticId).toList());
        assertEquals("test.relu.b", Searcher.run(reversed, "greedy", SearchOptions.defaults()).assignment().choice(relu).tacticId());
        assertEquals("test.relu.a", Searcher.run(plain, "greedy", SearchOptions.defaults()).assignment().choice(relu).tacticId());
    }

    static Tactic twin(String id) {
        return new StreamingTactic(new StreamingTactic.Config(id, "a test Relu", "Relu", n -> n.body() == null && n.opName().equals("Relu"),
                EnumSet.of(Precision.FP32), EnumSet.of(Layout.NCHW, Layout.NHWC), null, 0.9, 0.99, 1, false));
    }

    @Test void measuredTimesReachTheSelectorBesideThePredictions() {
        Graph g = resnetTiny();
        Node fc = g.nodes().stream().filter(n -> n.name().equals("fc")).findFirst().orElseThrow();
        MeasuredCosts m = new MeasuredCosts();
        m.put(fc, "cublaslt.gemm", Precision.FP32, Layout.ANY, 1.5);
        CatalogCosting base = new CatalogCosting(TacticCatalog.global(), new CostModel(DeviceSpec.byName("h100")), false);
        Recording r = new Recording("watch", (n, cs) -> cs);
        Searcher.problem(g, new MeasuredCosting(base, m), options(r));
        List<Algorithm> fcs = r.offered.get(r.seen.indexOf(r.seen.stream().filter(v -> v.name().equals("fc")).findFirst().orElseThrow()));
        Algorithm measured = fcs.stream().filter(a -> a.tactic().equals("cublaslt.gemm") && a.precision().equals("fp32")).findFirst().orElseThrow();
        assertEquals(1.5, measured.measuredUs().orElseThrow(), 1e-9);
        assertEquals(1.5, measured.timeUs(), 1e-9);
        assertTrue(measured.predictedUs() > 2, "the prediction is the cost model's, not the measurement: " + measured);
        Algorithm predicted = fcs.stream().filter(a -> a.precision().equals("fp16")).findFirst().orElseThrow();
        assertFalse(predicted.measuredUs().isPresent());
    }
}

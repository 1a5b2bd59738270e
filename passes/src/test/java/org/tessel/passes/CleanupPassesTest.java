package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

class CleanupPassesTest {
    private static List<Tensor> run(Graph g, Tensor x) { return new ReferenceInterpreter().run(g, List.of(x)); }

    private static Tensor x23() { return Tensor.ofFloats(Shape.of(2, 3), -1, 2, -3, 4, -5, 6); }

    @Test void cseMergesIdenticalNodesAndCommutedInputs() {
        NetworkBuilder b = new NetworkBuilder("cse");
        Value x = b.input("x", DType.F32, 2, 3);
        Value y = b.input("y", DType.F32, 2, 3);
        Value s = b.add(b.relu(x), b.relu(x));
        Value t = b.add(b.mul(x, y), b.mul(y, x));
        Graph g = b.output(s, t).build();
        List<Tensor> before = new ReferenceInterpreter().run(g, List.of(x23(), x23()));
        PassManager.Report r = new PassManager().fullVerify(true).run(g, "cse,dce");
        assertEquals(4, g.nodes().size(), g.opHistogram().toString());
        assertEquals(2, r.runs().get(0).stats().get("nodes-merged"));
        List<Tensor> after = new ReferenceInterpreter().run(g, List.of(x23(), x23()));
        assertTrue(before.get(0).dataEquals(after.get(0)) && before.get(1).dataEquals(after.get(1)));
    }

    @Test void cseDoesNotMergeDifferentAttributes() {
        NetworkBuilder b = new NetworkBuilder("cse2");
        Value x = b.input("x", DType.F32, 2, 3);
        Value a = b.softmax(x, 0), c = b.softmax(x, 1);
        Graph g = b.output(b.add(a, c)).build();
        new PassManager().run(g, "cse");
        assertEquals(3, g.nodes().size());
    }

    @Test void foldConstantsEvaluatesConstantSubgraphsAndKeepsOutputNames() {
        NetworkBuilder b = new NetworkBuilder("fold");
        Value x = b.input("x", DType.F32, 2, 3);
        Value c = b.constant("c", Shape.of(3), 1, 2, 3);
        Value cc = b.mul(b.add(c, c), c); // 2c*c = [2, 8, 18]
        Value y = b.add(x, cc);
        Graph g = b.output(y).build();
        Tensor expect = run(g, x23()).get(0);
        new PassManager().fullVerify(true).run(g, "fold-constants,dce");
        assertEquals(1, g.nodes().size());
        assertArrayEquals(new float[] {2, 8, 18}, g.nodes().get(0).input(1).constantValue().floats());
        assertTrue(expect.dataEquals(run(g, x23()).get(0)));
        assertEquals(y.name(), g.outputs().get(0).name());
    }

    /** Tile and GatherND are pure: of constants (an anchor grid tiled per location, a table gathered at fixed tuples) they fold; of a computed input they stay. */
    @Test void foldConstantsFoldsTileAndGatherNdOfConstants() {
        NetworkBuilder b = new NetworkBuilder("fold_tile");
        Value x = b.input("x", DType.F32, 2, 3);
        Value grid = b.op("Tile", null, b.constant("g", Shape.of(1, 3), 1, 2, 3), b.longs("reps", 2, 1));
        Value table = b.constant("t", Shape.of(2, 2, 3), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
        Value picked = b.op("GatherND", NetworkBuilder.attrs("batch_dims", 1), table, b.constant("i", Tensor.ofLongs(DType.I64, Shape.of(2, 1), 1, 0)));
        Value tiledX = b.op("Tile", null, x, b.longs("xreps", 1, 2));
        Graph g = b.output(b.add(b.add(x, grid), picked), tiledX).build();
        List<Tensor> expect = new ReferenceInterpreter().run(g, List.of(x23()));
        PassManager.Report r = new PassManager().fullVerify(true).run(g, "fold-constants,dce");
        assertEquals(2L, r.runs().get(0).stats().get("nodes-folded"));
        assertEquals(List.of("Add", "Add", "Tile"), g.nodes().stream().map(n -> n.opName()).sorted().toList());
        List<Tensor> after = new ReferenceInterpreter().run(g, List.of(x23()));
        assertTrue(expect.get(0).dataEquals(after.get(0)) && expect.get(1).dataEquals(after.get(1)));
        Tensor folded = g.nodes().stream().filter(n -> n.opName().equals("Add") && n.input(1).isConstant() && n.input(1).type().shape().equals(Shape.of(2, 3)))
                .map(n -> n.input(1).constantValue()).filter(t -> t.floats()[0] == 3).findFirst().orElseThrow();
        assertArrayEquals(new float[] {3, 4, 5, 6, 7, 8}, folded.floats(), "row 1 of batch 0, row 0 of batch 1");
    }

    @Test void foldConstantsLeavesLargeResultsAlone() {
        NetworkBuilder b = new NetworkBuilder("big");
        Value x = b.input("x", DType.F32, 64, 64);
        Value c = b.constant("c", Tensor.full(DType.F32, Shape.of(64, 64), 1));
        Graph g = b.output(b.add(x, b.add(c, c))).build();
        new PassManager().run(g, "fold-constants{max-elements=100}");
        assertEquals(2, g.nodes().size(), "must not fire above max-elements");
    }

    @Test void removeIdentitiesKeepsGraphOutputNames() {
        NetworkBuilder b = new NetworkBuilder("ids");
        Value x = b.input("x", DType.F32, 2, 3);
        Value r = b.relu(x);
        Value i1 = b.op("Identity", null, r);
        Value d = b.op("Dropout", null, i1);
        Graph g = b.output(d).build();
        String outName = d.name();
        new PassManager().fullVerify(true).run(g, "remove-identities");
        assertEquals(List.of("Relu"), g.nodes().stream().map(n -> n.opName()).toList());
        assertEquals(outName, g.outputs().get(0).name());
        assertArrayEquals(new float[] {0, 2, 0, 4, 0, 6}, run(g, x23()).get(0).floats());
    }

    @Test void removeIdentitiesMustNotFireWhenOutputWouldBecomeTheInput() {
        NetworkBuilder b = new NetworkBuilder("id-io");
        Value x = b.input("x", DType.F32, 2, 3);
        Graph g = b.output(b.op("Identity", null, x)).build();
        new PassManager().run(g, "remove-identities");
        assertEquals(1, g.nodes().size(), "a graph output must not turn into a graph input");
    }

    @Test void dceRemovesDeadNodesAndConstants() {
        Graph g = PassManagerTest.small();
        PassManager.Report r = new PassManager().run(g, "dce");
        assertEquals(2, g.nodes().size());
        assertEquals(1, r.runs().get(0).stats().get("nodes-removed"));
        assertFalse(new PassManager().run(g, "dce").runs().get(0).changed(), "idempotent");
    }
}

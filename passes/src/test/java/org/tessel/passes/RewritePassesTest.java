package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

class RewritePassesTest {
    private static List<String> ops(Graph g) { return g.nodes().stream().map(Node::opName).toList(); }

    private static Tensor rand(Shape s, long seed) { return new NetworkBuilder("r", OpRegistry.global(), seed).randomUniform(s, -2, 2); }

    private static void assertSameResults(Graph before, Graph after, List<Tensor> in, double tol) {
        List<Tensor> a = new ReferenceInterpreter().run(before, in), b = new ReferenceInterpreter().run(after, in);
        for (int k = 0; k < a.size(); k++)
            for (int i = 0; i < a.get(k).size(); i++)
                assertEquals(a.get(k).getDouble(i), b.get(k).getDouble(i), tol * (1 + Math.abs(a.get(k).getDouble(i))), "output " + k + " element " + i);
    }

    @Test void transposesComposeAndCancel() {
        NetworkBuilder b = new NetworkBuilder("tt");
        Value x = b.input("x", DType.F32, 2, 3, 4);
        Value t = b.transpose(b.transpose(x, 1, 2, 0), 2, 0, 1); // identity
        Value u = b.transpose(b.transpose(x, 0, 2, 1), 1, 0, 2);
        Graph g = b.output(b.add(t, x), u).build();
        Graph ref = g.copy();
        new PassManager().fullVerify(true).run(g, "canonicalize,dce");
        assertEquals(List.of("Transpose", "Add"), ops(g));
        assertArrayEquals(new long[] {2, 0, 1}, g.nodes().get(0).attrs().getInts("perm"));
        assertSameResults(ref, g, List.of(rand(Shape.of(2, 3, 4), 1)), 0);
    }

    @Test void reshapeChainsMergeAndNoOpReshapesGo() {
        NetworkBuilder b = new NetworkBuilder("rr");
        Value x = b.input("x", DType.F32, 2, 3, 4);
        Value r = b.reshape(b.flatten(x, 1), 6, 4);
        Value same = b.reshape(b.relu(x), 2, 3, 4);
        Graph g = b.output(r, same).build();
        Graph ref = g.copy();
        new PassManager().fullVerify(true).run(g, "canonicalize,dce");
        assertEquals(List.of("Reshape", "Relu"), ops(g));
        assertSameResults(ref, g, List.of(rand(Shape.of(2, 3, 4), 2)), 0);
    }

    @Test void reshapeMustNotMergeWhenTheMiddleIsUsedTwice() {
        NetworkBuilder b = new NetworkBuilder("rr2");
        Value x = b.input("x", DType.F32, 2, 3, 4);
        Value f = b.flatten(x, 1);
        Graph g = b.output(b.reshape(f, 6, 4), b.relu(f)).build();
        new PassManager().run(g, "canonicalize");
        assertEquals(List.of("Flatten", "Reshape", "Relu"), ops(g));
    }

    @Test void shapeArithmeticFoldsToConstants() {
        // a Reshape target must already be constant in Tessel's static IR, but Shape can still feed arithmetic
        NetworkBuilder b = new NetworkBuilder("shape");
        Value x = b.input("x", DType.F32, 2, 3, 4);
        Value s = b.op("Shape", null, x);
        Value d1 = b.op("Gather", NetworkBuilder.attrs("axis", 0), s, b.constant("i1", Tensor.ofLongs(DType.I64, Shape.scalar(), 1)));
        Value f = b.op("Cast", NetworkBuilder.attrs("to", 1), d1);
        Graph g = b.output(b.mul(x, f)).build();
        Graph ref = g.copy();
        new PassManager().fullVerify(true).run(g, "simplify-shapes,dce");
        assertEquals(List.of("Mul"), ops(g));
        assertEquals(3.0, g.nodes().get(0).input(1).constantValue().getDouble(0));
        assertSameResults(ref, g, List.of(rand(Shape.of(2, 3, 4), 3)), 0);
    }

    @Test void decomposedLayerNormIsRecognised() {
        NetworkBuilder b = new NetworkBuilder("ln");
        Value x = b.input("x", DType.F32, 2, 5, 8);
        Value axes = b.longs("axes", -1);
        Value mean = b.op("ReduceMean", null, x, axes);
        Value d = b.sub(x, mean);
        Value var = b.op("ReduceMean", null, b.op("Pow", null, d, b.constant("two", Tensor.scalar(DType.F32, 2))), axes);
        Value norm = b.div(d, b.op("Sqrt", null, b.add(var, b.constant("eps", Tensor.scalar(DType.F32, 1e-5)))));
        Value y = b.add(b.mul(norm, b.constant("gamma", b.randomUniform(Shape.of(8), 0.5f, 1.5f))), b.constant("beta", b.randomUniform(Shape.of(8), -1, 1)));
        Graph g = b.output(y).build();
        Graph ref = g.copy();
        new PassManager().fullVerify(true).run(g, "recognize-composites,dce");
        assertEquals(List.of("LayerNormalization"), ops(g));
        assertSameResults(ref, g, List.of(rand(Shape.of(2, 5, 8), 4)), 1e-5);
    }

    @Test void layerNormMustNotBeRecognisedOverTheWrongAxis() {
        NetworkBuilder b = new NetworkBuilder("ln-axis");
        Value x = b.input("x", DType.F32, 2, 5, 8);
        Value axes = b.longs("axes", 1);
        Value d = b.sub(x, b.op("ReduceMean", null, x, axes));
        Value var = b.op("ReduceMean", null, b.mul(d, d), axes);
        Graph g = b.output(b.div(d, b.op("Sqrt", null, b.add(var, b.constant("eps", Tensor.scalar(DType.F32, 1e-5)))))).build();
        new PassManager().run(g, "recognize-composites");
        assertFalse(ops(g).contains("LayerNormalization"));
    }

    @Test void erfGeluIsRecognisedInBothAssociationOrders() {
        NetworkBuilder b = new NetworkBuilder("gelu");
        Value x = b.input("x", DType.F32, 4, 6);
        Value half = b.constant("half", Tensor.scalar(DType.F32, 0.5)), one = b.constant("one", Tensor.scalar(DType.F32, 1));
        Value erf1 = b.op("Erf", null, b.div(x, b.constant("sqrt2", Tensor.scalar(DType.F32, Math.sqrt(2)))));
        Value g1 = b.mul(b.mul(x, b.add(erf1, one)), half);              // (x * (1 + erf)) * 0.5
        Value erf2 = b.op("Erf", null, b.div(x, b.constant("sqrt2b", Tensor.scalar(DType.F32, 1.4142135381698608))));
        Value g2 = b.mul(b.mul(x, half), b.add(erf2, one));              // (x * 0.5) * (1 + erf)
        Graph g = b.output(g1, g2).build();
        Graph ref = g.copy();
        new PassManager().fullVerify(true).run(g, "recognize-composites,dce");
        assertEquals(List.of("Gelu", "Gelu"), ops(g));
        assertSameResults(ref, g, List.of(rand(Shape.of(4, 6), 5)), 1e-6);
    }

    @Test void siblingConvsAndMatMulsMergeIntoOneWiderOpAndASplit() {
        NetworkBuilder b = new NetworkBuilder("sib");
        Value x = b.input("x", DType.F32, 1, 4, 5, 5);
        Value c1 = b.conv(x, b.randomWeights("w1", 3, 4, 1, 1), null, 1, 0);
        Value c2 = b.conv(x, b.randomWeights("w2", 5, 4, 1, 1), b.constant("b2", b.randomUniform(Shape.of(5), -1, 1)), 1, 0);
        Value c3 = b.conv(x, b.randomWeights("w3", 2, 4, 3, 3), null, 1, 1); // other kernel: must stay apart
        Value h = b.input("h", DType.F32, 2, 7, 16);
        Value q = b.matmul(h, b.randomWeights("wq", 16, 16)), k = b.matmul(h, b.randomWeights("wk", 16, 16)), v = b.matmul(h, b.randomWeights("wv", 16, 8));
        Graph g = b.output(c1, c2, c3, q, k, v).build();
        Graph ref = g.copy();
        PassManager.Report r = new PassManager().fullVerify(true).run(g, "merge-siblings,dce");
        assertEquals(5, r.runs().get(0).stats().get("siblings-merged"));
        assertEquals(List.of("Conv", "Split", "Conv", "MatMul", "Split"), ops(g));
        assertSameResults(ref, g, List.of(rand(Shape.of(1, 4, 5, 5), 6), rand(Shape.of(2, 7, 16), 7)), 1e-5);
    }

    /** Two graphs over the same weight tensors (a decoder's step buckets) merge them into one tensor, made once for both. */
    @Test void graphsOverTheSameWeightsShareTheirMergedWeights() {
        NetworkBuilder b = new NetworkBuilder("sib");
        Value h = b.input("h", DType.F32, 2, 16);
        Value q = b.matmul(h, b.randomWeights("wq", 16, 16)), k = b.matmul(h, b.randomWeights("wk", 16, 8)), v = b.matmul(h, b.randomWeights("wv", 16, 8));
        Graph g = b.output(q, k, v).build();
        Graph other = g.copy();
        new PassManager().run(g, "merge-siblings,dce");
        new PassManager().run(other, "merge-siblings,dce");
        Tensor w1 = merged(g), w2 = merged(other);
        assertEquals(Shape.of(16, 32), w1.shape());
        assertSame(w1, w2, "one merged tensor for both graphs");
        assertSameResults(g, other, List.of(rand(Shape.of(2, 16), 3)), 0);
    }

    /** The constant weight of the graph's one MatMul. */
    private static Tensor merged(Graph g) {
        return g.nodes().stream().filter(n -> n.opName().equals("MatMul")).findFirst().orElseThrow().input(1).constantValue();
    }
}

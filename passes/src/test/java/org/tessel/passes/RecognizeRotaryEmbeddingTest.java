package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/**
 * recognize-composites on rotary embeddings: the zoo's Split form and the Slice form of Hugging Face's export become one
 * tessel.RotaryEmbedding with the same results; a Concat in the other order, the Neg on the first half, halves of
 * another axis and a rotate_half read elsewhere are left alone.
 */
class RecognizeRotaryEmbeddingTest {
    private static List<String> ops(Graph g) { return g.nodes().stream().map(Node::opName).toList(); }

    private static Tensor rand(Shape s, long seed) { return new NetworkBuilder("r", OpRegistry.global(), seed).randomUniform(s, -2, 2); }

    private enum Form { SPLIT, SLICE, CONCAT_SWAPPED, NEG_ON_FIRST, SPLIT_AXIS_2 }

    /** q [2, 3, 5, 8] (batch, heads, seq, D) with cos, sin [2, 1, 5, 8] as graph inputs; rotate_half written as {@code form}. */
    private static Graph rope(Form form, boolean swapOperands) {
        NetworkBuilder b = new NetworkBuilder("rope");
        Value x = b.input("x", DType.F32, 2, 3, 5, 8), cos = b.input("cos", DType.F32, 2, 1, 5, 8), sin = b.input("sin", DType.F32, 2, 1, 5, 8);
        Value x1, x2;
        switch (form) {
            case SLICE -> {
                x1 = b.op("Slice", Attributes.empty(), x, b.longs("s0", 0), b.longs("e0", 4), b.longs("a0", -1), b.longs("st0", 1));
                x2 = b.op("Slice", Attributes.empty(), x, b.longs("s1", 4), b.longs("e1", Long.MAX_VALUE), b.longs("a1", 3));
            }
            case SPLIT_AXIS_2 -> {
                // halves of axis 2 (seq 5 is odd, so a [2, 3, 4, 8] input): same op chain, another axis
                x = b.input("x4", DType.F32, 2, 3, 4, 8);
                cos = b.input("cos4", DType.F32, 2, 1, 4, 8);
                sin = b.input("sin4", DType.F32, 2, 1, 4, 8);
                List<Value> h = b.split(x, 2, 2, 2);
                x1 = h.get(0);
                x2 = h.get(1);
                Value rot = b.op("Concat", Attributes.builder().put("axis", 2L).build(), b.op("Neg", Attributes.empty(), x2), x1);
                return b.output(b.add(b.mul(x, cos), b.mul(rot, sin))).build();
            }
            default -> {
                List<Value> h = b.split(x, -1, 4, 4);
                x1 = h.get(0);
                x2 = h.get(1);
            }
        }
        Value rot = switch (form) {
            case CONCAT_SWAPPED -> b.concat(-1, x1, b.op("Neg", Attributes.empty(), x2));
            case NEG_ON_FIRST -> b.concat(-1, b.op("Neg", Attributes.empty(), x1), x2);
            default -> b.concat(-1, b.op("Neg", Attributes.empty(), x2), x1);
        };
        Value y = swapOperands ? b.add(b.mul(sin, rot), b.mul(cos, x)) : b.add(b.mul(x, cos), b.mul(rot, sin));
        return b.output(y).build();
    }

    private static void assertSameResults(Graph before, Graph after, long seed) {
        List<Tensor> in = before.inputs().stream().map(v -> rand(v.type().shape(), seed + v.name().length())).toList();
        List<Tensor> a = new ReferenceInterpreter().run(before, in), b = new ReferenceInterpreter().run(after, in);
        for (int i = 0; i < a.getFirst().size(); i++)
            assertEquals(a.getFirst().getDouble(i), b.getFirst().getDouble(i), 1e-5 * (1 + Math.abs(a.getFirst().getDouble(i))), "element " + i);
    }

    @Test void theSplitAndSliceFormsBecomeOneRotaryEmbedding() {
        for (Form f : List.of(Form.SPLIT, Form.SLICE))
            for (boolean swap : new boolean[] {false, true}) {
                Graph g = rope(f, swap), ref = g.copy();
                new PassManager().fullVerify(true).run(g, "recognize-composites,dce");
                assertEquals(List.of("tessel.RotaryEmbedding"), ops(g), f + (swap ? " swapped operands" : ""));
                assertEquals(List.of("x", "cos", "sin"), g.nodes().getFirst().inputs().stream().map(Value::name).toList());
                assertSameResults(ref, g, f.ordinal() * 2L + (swap ? 1 : 0));
            }
    }

    @Test void nearMissesAreNotMatched() {
        for (Form f : List.of(Form.CONCAT_SWAPPED, Form.NEG_ON_FIRST, Form.SPLIT_AXIS_2)) {
            Graph g = rope(f, false);
            List<String> before = ops(g);
            new PassManager().run(g, "recognize-composites");
            assertEquals(before, ops(g), f.toString());
        }
    }

    @Test void aRotateHalfReadElsewhereIsLeftAlone() {
        NetworkBuilder b = new NetworkBuilder("shared");
        Value x = b.input("x", DType.F32, 1, 2, 3, 8), cos = b.input("cos", DType.F32, 1, 1, 3, 8), sin = b.input("sin", DType.F32, 1, 1, 3, 8);
        List<Value> h = b.split(x, -1, 4, 4);
        Value rot = b.concat(-1, b.op("Neg", Attributes.empty(), h.get(1)), h.get(0));
        Graph g = b.output(b.add(b.mul(x, cos), b.mul(rot, sin)), rot).build();
        new PassManager().run(g, "recognize-composites");
        assertFalse(ops(g).contains("tessel.RotaryEmbedding"));
    }

    @Test void cosOfAnotherWidthIsNotMatched() {
        // cos and sin [.., 1] broadcast along D: a valid graph, but not the op's operands
        NetworkBuilder b = new NetworkBuilder("narrow");
        Value x = b.input("x", DType.F32, 1, 2, 3, 8), cos = b.input("cos", DType.F32, 1, 1, 3, 1), sin = b.input("sin", DType.F32, 1, 1, 3, 1);
        List<Value> h = b.split(x, -1, 4, 4);
        Value rot = b.concat(-1, b.op("Neg", Attributes.empty(), h.get(1)), h.get(0));
        Graph g = b.output(b.add(b.mul(x, cos), b.mul(rot, sin))).build();
        new PassManager().run(g, "recognize-composites");
        assertFalse(ops(g).contains("tessel.RotaryEmbedding"));
    }
}

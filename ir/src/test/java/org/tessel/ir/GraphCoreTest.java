package org.tessel.ir;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

class GraphCoreTest {
    private final org.tessel.api.OpRegistry reg = TestOps.registry();

    private Graph sample() {
        NetworkBuilder b = new NetworkBuilder("g", reg, 1);
        Value x = b.input("x", DType.F32, 2, 4);
        Value w = b.constant("w", Shape.of(2, 4), 1, 2, 3, 4, 5, 6, 7, 8);
        Value y = b.op("TMul", null, b.op("TInc", null, x), w);
        Node h = b.node("THalves", "halves", null, 2, y);
        return b.output(h.output(0), h.output(1)).build();
    }

    @Test void interpreterRunsMultiOutputGraph() {
        Graph g = sample();
        Tensor x = Tensor.ofFloats(Shape.of(2, 4), 0, 0, 0, 0, 1, 1, 1, 1);
        List<Tensor> out = new ReferenceInterpreter().run(g, List.of(x));
        assertArrayEquals(new float[] {1, 2, 10, 12}, out.get(0).floats());
        assertArrayEquals(new float[] {3, 4, 14, 16}, out.get(1).floats());
    }

    @Test void builderRejectsBadShapeNamingTheNode() {
        NetworkBuilder b = new NetworkBuilder("g", reg, 1);
        Value x = b.input("x", DType.F32, 2, 3);
        IrException e = assertThrows(IrException.class, () -> b.node("THalves", "split_me", null, 2, x));
        assertEquals("node 'split_me' (THalves): last dimension 3 is odd", e.getMessage());
    }

    @Test void builderRejectsWrongArity() {
        NetworkBuilder b = new NetworkBuilder("g", reg, 1);
        Value x = b.input("x", DType.F32, 2, 4);
        IrException e = assertThrows(IrException.class, () -> b.node("TMul", "m", null, 1, x));
        assertEquals("node 'm' (TMul): takes 2 inputs, got 1", e.getMessage());
    }

    @Test void verifierReportsUseBeforeDefinition() {
        Graph g = sample();
        // move the last node to the front: its input is now used before it is defined
        Node last = g.nodes().get(g.nodes().size() - 1);
        Node first = g.nodes().get(0);
        g.removeNode(last);
        Node moved = g.insertNode(0, last.op(), last.name(), last.inputs(), last.attrs(),
                last.outputs().stream().map(Value::type).toList(), null, null);
        g.setOutputs(moved.outputs());
        VerificationException e = assertThrows(VerificationException.class, () -> Verifier.verify(g));
        assertTrue(e.getMessage().contains("node 'halves' (THalves): input 0 %"), e.getMessage());
        assertTrue(e.getMessage().contains("used before it is defined"), e.getMessage());
        assertNotNull(first);
    }

    @Test void verifierReportsTypeDisagreement() {
        Graph g = sample();
        Node inc = g.nodes().get(0);
        inc.output().setType(TensorType.of(DType.F16, 2, 4));
        VerificationException e = assertThrows(VerificationException.class, () -> Verifier.verify(g));
        assertTrue(e.problems().stream().anyMatch(p -> p.contains("is typed f16[2,4] but the op infers f32[2,4]")), e.problems().toString());
    }

    @Test void verifierReportsUnknownAttribute() {
        Graph g = sample();
        g.nodes().get(0).setAttrs(Attributes.builder().put("alpha", 1L).build());
        VerificationException e = assertThrows(VerificationException.class, () -> Verifier.verify(g, Verifier.Level.CHEAP));
        assertTrue(e.getMessage().contains("unknown attribute 'alpha'"), e.getMessage());
    }

    @Test void interpreterRejectsWrongInputShape() {
        Graph g = sample();
        IrException e = assertThrows(IrException.class, () -> new ReferenceInterpreter().run(g, List.of(Tensor.zeros(DType.F32, Shape.of(4, 2)))));
        assertEquals("graph 'g': input %x must be f32[2,4], got f32[4,2]", e.getMessage());
    }

    @Test void copyIsIndependentAndEqualInShape() {
        Graph g = sample();
        Graph c = g.copy();
        assertEquals(g.nodes().size(), c.nodes().size());
        c.removeNode(c.nodes().get(2));
        assertEquals(3, g.nodes().size());
        Verifier.verify(g);
    }

    /** The node list is a linked list numbered lazily: inserting before any node, removing any node and positions stay right. */
    @Test void nodeOrderStaysRightThroughInsertsAndRemovalsAnywhere() {
        Graph g = new Graph("g");
        Value x = g.addInput("x", TensorType.of(DType.F32, 4));
        var relu = org.tessel.api.OpRegistry.global().get("Relu");
        List<Node> made = new java.util.ArrayList<>();
        Value v = x;
        for (int i = 0; i < 6; i++) {
            Node n = g.addNode(relu, "n" + i, List.of(v), Attributes.empty(), 1);
            made.add(n);
            v = n.output();
        }
        g.setOutputs(List.of(v));
        Node first = made.get(0);
        Node before3 = g.insertNodeBefore(made.get(3), relu, "m", List.of(made.get(2).output()), Attributes.empty(), List.of(TensorType.of(DType.F32, 4)), null, null);
        assertEquals(List.of("n0", "n1", "n2", "m", "n3", "n4", "n5"), g.nodes().stream().map(Node::name).toList());
        assertEquals(3, g.indexOf(before3));
        assertEquals(4, g.indexOf(made.get(3)));
        g.setNodeInput(made.get(4), 0, before3.output());
        g.replaceAllUses(made.get(3).output(), before3.output());
        g.removeNode(made.get(3));
        assertEquals(List.of("n0", "n1", "n2", "m", "n4", "n5"), g.nodes().stream().map(Node::name).toList());
        assertEquals(-1, g.indexOf(made.get(3)));
        assertEquals(5, g.indexOf(made.get(5)));
        g.insertNode(0, relu, "front", List.of(x), Attributes.empty(), List.of(TensorType.of(DType.F32, 4)), null, null);
        assertEquals("front", g.nodes().get(0).name());
        assertEquals(1, g.indexOf(first));
        assertEquals(7, g.size());
        assertTrue(g.nodes().contains(first));
        Verifier.verify(g);
        // a live view: changing the graph while iterating fails fast, as it did over an ArrayList
        assertThrows(java.util.ConcurrentModificationException.class, () -> {
            for (Node n : g.nodes()) if (n.name().equals("n1")) g.insertNodeBefore(n, relu, "late", List.of(x), Attributes.empty(), List.of(TensorType.of(DType.F32, 4)), null, null);
        });
    }

    /** Uses are counted per input and listed per node once, in the order nodes started reading. */
    @Test void usesCountEveryInputAndDropOneAtATime() {
        Graph g = new Graph("g");
        Value x = g.addInput("x", TensorType.of(DType.F32, 4));
        var add = org.tessel.api.OpRegistry.global().get("Add");
        Node twice = g.addNode(add, "twice", List.of(x, x), Attributes.empty(), 1);
        Node once = g.addNode(add, "once", List.of(twice.output(), x), Attributes.empty(), 1);
        g.setOutputs(List.of(once.output()));
        assertEquals(3, g.useCount(x));
        assertEquals(List.of(twice, once), g.users(x));
        Value c = g.addConstant("c", Tensor.zeros(DType.F32, Shape.of(4)));
        g.setNodeInput(twice, 0, c);
        assertEquals(2, g.useCount(x));
        assertEquals(List.of(twice, once), g.users(x), "twice still reads x once");
        g.setNodeInput(twice, 1, c);
        assertEquals(List.of(once), g.users(x));
        assertEquals(1, g.useCount(x));
        assertEquals(java.util.Map.of(x, List.of(once)), java.util.Map.of(x, g.users().get(x)));
    }

    @Test void topologicalSortRepairsOrderAndDetectsCycles() {
        Graph g = sample();
        Node last = g.nodes().get(2);
        g.removeNode(last);
        Node moved = g.insertNode(0, last.op(), last.name(), last.inputs(), last.attrs(),
                last.outputs().stream().map(Value::type).toList(), null, null);
        g.setOutputs(moved.outputs());
        g.sortTopologically();
        Verifier.verify(g);
        assertEquals("halves", g.nodes().get(2).name());
    }

    @Test void tensorRoundsNarrowFloatsAndWrapsInts() {
        Tensor h = Tensor.zeros(DType.F16, Shape.of(1));
        h.setDouble(0, 0.1);
        assertEquals(0.0999755859375, h.getDouble(0), 0);
        Tensor bf = Tensor.zeros(DType.BF16, Shape.of(1));
        bf.setDouble(0, 1.00390625); // halfway between 1.0 and 1.0078125: ties to even -> 1.0
        assertEquals(1.0, bf.getDouble(0), 0);
        Tensor i8 = Tensor.zeros(DType.I8, Shape.of(1));
        i8.setLong(0, 200);
        assertEquals(-56, i8.getLong(0));
        Tensor u8 = Tensor.ofLongs(DType.U8, Shape.of(2), -1, 256);
        assertEquals("[255, 0]", Arrays.toString(u8.longs()));
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.F32, Shape.of(1 << 16, 1 << 16)));
    }
}

package org.tessel.ir.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.tessel.api.Attributes;
import org.tessel.api.OpSchema;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;

/** Graph-building and round-trip helpers shared by the text-format tests. */
final class TextTestSupport {
    private TextTestSupport() {}

    static final IrParser PARSER = new IrParser(TestOps.REGISTRY);

    /** Appends a node of a test op with inferred types and the given result names. */
    static Node node(Graph g, String op, String nodeName, Attributes attrs, List<String> outNames, Value... ins) {
        OpSchema s = TestOps.REGISTRY.get(op);
        List<Value> inputs = Arrays.asList(ins);
        List<TensorType> types = Graph.inferTypes(s, nodeName, inputs, attrs, outNames.size());
        return g.insertNode(g.nodes().size(), s, nodeName, inputs, attrs, types, outNames, null);
    }

    /** A one-result node named after its result. */
    static Value op(Graph g, String op, String name, Attributes attrs, Value... ins) {
        return node(g, op, name, attrs, List.of(name), ins).output();
    }

    static Value op(Graph g, String op, String name, Value... ins) { return op(g, op, name, Attributes.empty(), ins); }

    static Graph parse(String text) { return PARSER.read(text, "test.tir"); }

    /** Prints, parses, and checks both structural equality and that printing again gives the same text. */
    static Graph roundTrip(Graph g) {
        Verifier.verify(g);
        String text = IrPrinter.print(g);
        Graph back = PARSER.read(text, "roundtrip.tir");
        assertEquals(Optional.empty(), GraphEquality.diff(g, back), () -> "after a round trip through:\n" + text);
        assertEquals(text, IrPrinter.print(back));
        return back;
    }
}

package org.tessel.ir.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.ir.Graph;

/** Each kind of difference is found and named; equal graphs are equal. */
class GraphEqualityTest {
    private static final String BASE = """
            graph @g(%x: f32[2,2], %y: f32[2]) {
              %c = constant f32[2] dense<0.0, 1.5>
              %a = Add(%x, %c) : f32[2,2]
              %p, %q = Split(%a) {axis=1} : f32[2,1], f32[2,1] loc("split")
              %f = Fused(%x) {kind="copy"} : f32[2,2] body {
                graph @b(%u: f32[2,2]) {
                  %r = Relu(%u) : f32[2,2]
                  return %r
                }
              }
              return %p, %f
            }
            """;

    private static Graph g() { return TextTestSupport.parse(BASE); }

    /** The first difference between the base graph and the base text after one textual edit. */
    private static String diffAfter(UnaryOperator<String> edit) {
        Graph other = TextTestSupport.parse(edit.apply(BASE));
        Optional<String> d = GraphEquality.diff(g(), other);
        assertFalse(GraphEquality.structurallyEqual(g(), other));
        return d.orElseThrow();
    }

    @Test
    void equalGraphsAreEqual() {
        assertTrue(GraphEquality.structurallyEqual(g(), g()));
        assertEquals(Optional.empty(), GraphEquality.diff(g(), g().copy()));
        GraphEquality.assertEqual(g(), g());
        // attribute order does not matter, as for Attributes.equals
        Graph a = TextTestSupport.parse("graph @g(%x: f32[2]) {\n  %p = Pass(%x) {i=1, s=\"a\"} : f32[2]\n  return %p\n}\n");
        Graph b = TextTestSupport.parse("graph @g(%x: f32[2]) {\n  %p = Pass(%x) {s=\"a\", i=1} : f32[2]\n  return %p\n}\n");
        assertTrue(GraphEquality.structurallyEqual(a, b));
    }

    @Test
    void namesTypesAndLayoutsCount() {
        assertEquals("graph name @g vs @h", diffAfter(s -> s.replace("graph @g", "graph @h")));
        assertEquals("input 1: %y: f32[2] vs %z: f32[2]", diffAfter(s -> s.replace("%y: f32[2]", "%z: f32[2]")));
        assertEquals("input 0: %x: f32[2,2] vs %x: f32[2,2]{nhwc}", diffAfter(s -> s.replace("%x: f32[2,2], %y", "%x: f32[2,2]{nhwc}, %y")));
        assertEquals("number of inputs: 2 vs 1", diffAfter(s -> s.replace(", %y: f32[2]", "")));
        assertEquals("node 1 'split': result 0 %p: f32[2,1] vs %p: f32[2,1]{nchw}",
                diffAfter(s -> s.replace(": f32[2,1], f32[2,1]", ": f32[2,1]{nchw}, f32[2,1]")));
        assertEquals("node 1: name 'split' vs 'split2'", diffAfter(s -> s.replace("loc(\"split\")", "loc(\"split2\")")));
    }

    @Test
    void constantDataComparesBitForBit() {
        assertEquals("constant %c: element 0 is 0.0 vs -0.0", diffAfter(s -> s.replace("dense<0.0, 1.5>", "dense<-0.0, 1.5>")));
        assertEquals("constant %c: element 1 is 1.5 vs nan(0x7fc00001)", diffAfter(s -> s.replace("dense<0.0, 1.5>", "dense<0.0, nan(0x7fc00001)>")));
        assertEquals("constant %c: type f32[2] vs f32[2]{nhwc}", diffAfter(s -> s.replace("constant f32[2]", "constant f32[2]{nhwc}")));
        assertEquals("number of constants: 1 vs 2", diffAfter(s -> s.replace("  %a = Add", "  %d = constant i8[] dense<1>\n  %a = Add")));
    }

    @Test
    void nodesWiringAndOutputs() {
        assertEquals("node 0 'a': input 0 is %x vs %c", diffAfter(s -> s.replace("Add(%x, %c)", "Add(%c, %x)")));
        assertEquals("node 1 'split': attributes {axis=1} vs {axis=-1}", diffAfter(s -> s.replace("{axis=1}", "{axis=-1}")));
        assertEquals("node 0 'a': op Add vs Pass", diffAfter(s -> s.replace("%a = Add(%x, %c)", "%a = Pass(%x, %c)")));
        assertEquals("node 2 'f': number of inputs 1 vs 2", diffAfter(s -> s.replace("Fused(%x)", "Fused(%x, %y)").replace("@b(%u: f32[2,2])", "@b(%u: f32[2,2], %v: f32[2])")));
        assertEquals("graph output 0: %p vs %f", diffAfter(s -> s.replace("return %p, %f", "return %f, %p")));
        assertEquals("number of graph outputs: 2 vs 1", diffAfter(s -> s.replace("return %p, %f", "return %p")));
        assertEquals("node 2 'f' body: node 0 'r': op Relu vs test.alt.Relu", diffAfter(s -> s.replace("= Relu(%u)", "= test.alt.Relu(%u)")));
        assertEquals("node 2 'f' body: graph name @b vs @c", diffAfter(s -> s.replace("graph @b", "graph @c")));
    }

    @Test
    void assertEqualFailsWithTheDifference() {
        Graph a = g();
        Graph c = g();
        c.inputs().get(0).setType(c.inputs().get(0).type().withLayout(Layout.NCHW));
        AssertionError e = assertThrows(AssertionError.class, () -> GraphEquality.assertEqual(a, c));
        assertEquals("graphs differ (expected vs actual): input 0: %x: f32[2,2] vs %x: f32[2,2]{nchw}", e.getMessage());
    }
}

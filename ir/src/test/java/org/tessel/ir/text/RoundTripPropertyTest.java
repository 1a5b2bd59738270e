package org.tessel.ir.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/** parse(print(g)) is g, and printing is a fixed point, for random graphs over the test ops. */
class RoundTripPropertyTest {

    @Property(tries = 400)
    void printThenParseGivesAnEqualGraph(@ForAll long seed) {
        Graph g = RandomGraphs.generate(seed, false);
        String text = IrPrinter.print(g);
        Graph back = TextTestSupport.PARSER.read(text, "seed" + seed + ".tir");
        assertTrue(GraphEquality.structurallyEqual(back, g), () -> GraphEquality.diff(g, back).orElseThrow() + "\n" + text);
        assertEquals(text, IrPrinter.print(back));
    }

    @Property(tries = 150)
    void elidedConstantsComeBackThroughTheResolver(@ForAll long seed) {
        Graph g = RandomGraphs.generate(seed, true);
        long limit = Math.floorMod(seed, 4);
        String text = IrPrinter.print(g, IrPrinter.Options.elidingAbove(limit));
        Map<String, Tensor> originals = new HashMap<>();
        ArrayDeque<Graph> todo = new ArrayDeque<>();
        todo.add(g);
        while (!todo.isEmpty()) {
            Graph cur = todo.pop();
            for (Value c : cur.constants()) originals.put(c.name(), c.constantValue());
            for (Node n : cur.nodes()) if (n.body() != null) todo.add(n.body());
        }
        Graph back = new IrParser(TestOps.REGISTRY, originals).read(text, "elided.tir");
        assertTrue(GraphEquality.structurallyEqual(g, back), () -> GraphEquality.diff(g, back).orElseThrow() + "\n" + text);
        assertEquals(text, IrPrinter.print(back, IrPrinter.Options.elidingAbove(limit)));
        assertEquals(IrPrinter.print(g), IrPrinter.print(back));
    }
}

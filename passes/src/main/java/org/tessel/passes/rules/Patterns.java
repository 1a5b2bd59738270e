package org.tessel.passes.rules;

import java.util.List;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/** Small matching helpers rules compose; each returns null/false at the first mismatch. */
public final class Patterns {
    private Patterns() {}

    /** The producer of n's input i if it is a node of the given op, else null. */
    public static Node producer(Node n, int i, String op) {
        Value v = n.input(i);
        if (v == null || v.producer() == null) return null;
        return v.producer().opName().equals(op) ? v.producer() : null;
    }

    /** True when v is used by exactly one node input and is not a graph output. */
    public static boolean singleUse(Graph g, Value v) {
        return g.useCount(v) == 1 && !g.outputs().contains(v);
    }

    /** True when v has no users and is not a graph output. */
    public static boolean unused(Graph g, Value v) {
        return g.useCount(v) == 0 && !g.outputs().contains(v);
    }

    public static boolean isConstant(Value v) { return v != null && v.isConstant(); }

    public static List<Node> users(Graph g, Value v) { return g.users(v); }
}

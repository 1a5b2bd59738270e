package org.tessel.ir.text;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/**
 * Structural equality of graphs, the relation golden tests and round-trip tests rest on.
 *
 * <p>Two graphs are equal when they have the same name; the same inputs (names and types,
 * layouts included); the same constants in order (names, types, and data bit for bit, so -0.0
 * differs from 0.0 and NaN payloads count); the same nodes in order with the same op, node name,
 * attributes, input wiring (an input refers to the counterpart of the value the other graph's
 * node refers to, or both are omitted), result names and types, and equal bodies; and the same
 * graph outputs. Attributes compare as {@link org.tessel.api.Attributes#equals} does: by name
 * and value, regardless of order, float attributes by bits up to NaN canonicalisation.
 */
public final class GraphEquality {
    private GraphEquality() {}

    public static boolean structurallyEqual(Graph a, Graph b) { return diff(a, b).isEmpty(); }

    /** The first difference, as a sentence naming where it is; empty when the graphs are equal. */
    public static Optional<String> diff(Graph a, Graph b) { return Optional.ofNullable(firstDiff(a, b)); }

    /** Throws an AssertionError carrying the first difference; for tests in any module. */
    public static void assertEqual(Graph expected, Graph actual) {
        String d = firstDiff(expected, actual);
        if (d != null) throw new AssertionError("graphs differ (expected vs actual): " + d);
    }

    private static String name(Value v) { return v == null ? "none" : TextSyntax.sigilName('%', v.name()); }

    private static String firstDiff(Graph a, Graph b) {
        if (!a.name().equals(b.name())) return "graph name " + TextSyntax.sigilName('@', a.name()) + " vs " + TextSyntax.sigilName('@', b.name());
        Map<Value, Value> map = new IdentityHashMap<>();

        if (a.inputs().size() != b.inputs().size()) return "number of inputs: " + a.inputs().size() + " vs " + b.inputs().size();
        for (int i = 0; i < a.inputs().size(); i++) {
            Value x = a.inputs().get(i), y = b.inputs().get(i);
            if (!x.name().equals(y.name()) || !x.type().equals(y.type()))
                return "input " + i + ": " + name(x) + ": " + x.type() + " vs " + name(y) + ": " + y.type();
            map.put(x, y);
        }

        if (a.constants().size() != b.constants().size())
            return "number of constants: " + a.constants().size() + " vs " + b.constants().size();
        for (int i = 0; i < a.constants().size(); i++) {
            Value x = a.constants().get(i), y = b.constants().get(i);
            if (!x.name().equals(y.name())) return "constant " + i + ": " + name(x) + " vs " + name(y);
            if (!x.type().equals(y.type())) return "constant " + name(x) + ": type " + x.type() + " vs " + y.type();
            String d = tensorDiff(x.constantValue(), y.constantValue());
            if (d != null) return "constant " + name(x) + ": " + d;
            map.put(x, y);
        }

        if (a.nodes().size() != b.nodes().size()) return "number of nodes: " + a.nodes().size() + " vs " + b.nodes().size();
        for (int k = 0; k < a.nodes().size(); k++) {
            Node x = a.nodes().get(k), y = b.nodes().get(k);
            String where = "node " + k + " '" + x.name() + "'";
            if (!x.opName().equals(y.opName())) return where + ": op " + x.opName() + " vs " + y.opName();
            if (!x.name().equals(y.name())) return "node " + k + ": name '" + x.name() + "' vs '" + y.name() + "'";
            if (!x.attrs().equals(y.attrs())) return where + ": attributes " + attrsText(x) + " vs " + attrsText(y);
            if (x.numInputs() != y.numInputs()) return where + ": number of inputs " + x.numInputs() + " vs " + y.numInputs();
            for (int i = 0; i < x.numInputs(); i++) {
                Value xi = x.input(i), yi = y.input(i);
                boolean same = xi == null ? yi == null : yi != null && map.get(xi) == yi;
                if (!same) return where + ": input " + i + " is " + name(xi) + " vs " + name(yi)
                        + (xi != null && yi != null && xi.name().equals(yi.name()) ? " (same name, different definition)" : "");
            }
            if (x.outputs().size() != y.outputs().size()) return where + ": number of results " + x.outputs().size() + " vs " + y.outputs().size();
            for (int i = 0; i < x.outputs().size(); i++) {
                Value xo = x.output(i), yo = y.output(i);
                if (!xo.name().equals(yo.name()) || !xo.type().equals(yo.type()))
                    return where + ": result " + i + " " + name(xo) + ": " + xo.type() + " vs " + name(yo) + ": " + yo.type();
                map.put(xo, yo);
            }
            if ((x.body() == null) != (y.body() == null))
                return where + ": " + (x.body() == null ? "no body vs a body" : "a body vs no body");
            if (x.body() != null) {
                String d = firstDiff(x.body(), y.body());
                if (d != null) return where + " body: " + d;
            }
        }

        if (a.outputs().size() != b.outputs().size()) return "number of graph outputs: " + a.outputs().size() + " vs " + b.outputs().size();
        for (int i = 0; i < a.outputs().size(); i++) {
            Value x = a.outputs().get(i), y = b.outputs().get(i);
            if (map.get(x) != y) return "graph output " + i + ": " + name(x) + " vs " + name(y);
        }
        return null;
    }

    private static String attrsText(Node n) { return IrPrinter.appendAttributes(new StringBuilder(), n.attrs()).toString(); }

    /** Null when both tensors have the same dtype, shape and element bits; otherwise the first difference. */
    static String tensorDiff(Tensor x, Tensor y) {
        if (x == null || y == null) return x == y ? null : (x == null ? "no data vs data" : "data vs no data");
        if (x.dtype() != y.dtype() || !x.shape().equals(y.shape())) return "data type " + x.type() + " vs " + y.type();
        int n = x.size();
        for (int i = 0; i < n; i++) {
            if (TextSyntax.elementBits(x, i) != TextSyntax.elementBits(y, i)) {
                StringBuilder sb = new StringBuilder("element ").append(i).append(" is ");
                TextSyntax.appendElement(sb, x, i);
                sb.append(" vs ");
                TextSyntax.appendElement(sb, y, i);
                return sb.toString();
            }
        }
        return null;
    }
}

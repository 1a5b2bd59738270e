package org.tessel.ir.text;

import java.util.List;
import java.util.Map;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/**
 * Writes a graph in Tessel's textual IR, one definition per line; {@link IrParser} reads it back
 * into a structurally equal graph. The grammar is documented in {@code package-info.java}.
 *
 * <p>Constants are printed first (in graph order), then nodes, then {@code return}. Printing is
 * deterministic, so printed text serves as a golden-test snapshot; with
 * {@link Options#elideConstantsAbove} large weights shrink to a size and content hash.
 */
public final class IrPrinter {
    /**
     * Printing options.
     *
     * @param elideConstantsAbove constants with more elements than this print as
     *     {@code dense_elided<N elements, hash=0x...>}; {@link Long#MAX_VALUE} never elides
     */
    public record Options(long elideConstantsAbove) {
        public static final Options DEFAULT = new Options(Long.MAX_VALUE);

        public Options {
            if (elideConstantsAbove < 0) throw new IllegalArgumentException("elideConstantsAbove must be >= 0, got " + elideConstantsAbove);
        }

        public static Options elidingAbove(long elements) { return new Options(elements); }
    }

    private final Options options;
    private final StringBuilder sb = new StringBuilder();

    private IrPrinter(Options options) { this.options = options; }

    public static String print(Graph g) { return print(g, Options.DEFAULT); }

    public static String print(Graph g, Options options) {
        IrPrinter p = new IrPrinter(options);
        p.graph(g, 0);
        return p.sb.toString();
    }

    /** The text form of a type: {@code f32[1,3,224,224]{nchw}}, layout omitted when ANY. */
    public static String type(TensorType t) { return t.toString(); }

    /** The content hash written into {@code dense_elided<...>}, for tools that build resolvers. */
    public static long contentHash(Tensor t) { return TextSyntax.contentHash(t); }

    /** A dense literal alone, e.g. {@code dense<1.0, 2.0>}: handy in messages and golden files. */
    public static String dense(Tensor t) {
        StringBuilder b = new StringBuilder();
        appendDense(b, t);
        return b.toString();
    }

    private void indent(int level) { sb.repeat("  ", level); }

    private void graph(Graph g, int level) {
        indent(level);
        sb.append("graph ").append(TextSyntax.sigilName('@', g.name())).append('(');
        List<Value> ins = g.inputs();
        for (int i = 0; i < ins.size(); i++) {
            if (i > 0) sb.append(", ");
            value(ins.get(i));
            sb.append(": ").append(type(ins.get(i).type()));
        }
        sb.append(") {\n");
        for (Value c : g.constants()) constant(c, level + 1);
        for (Node n : g.nodes()) node(n, level + 1);
        indent(level + 1);
        sb.append("return");
        List<Value> outs = g.outputs();
        for (int i = 0; i < outs.size(); i++) {
            sb.append(i == 0 ? " " : ", ");
            value(outs.get(i));
        }
        sb.append('\n');
        indent(level);
        sb.append("}\n");
    }

    private void value(Value v) { sb.append(TextSyntax.sigilName('%', v.name())); }

    private void constant(Value c, int level) {
        Tensor t = c.constantValue();
        if (t == null) throw new IrException("constant %" + c.name() + " has no data and cannot be printed");
        indent(level);
        value(c);
        sb.append(" = constant ").append(type(c.type())).append(' ');
        if (t.size() > options.elideConstantsAbove()) {
            sb.append("dense_elided<").append(t.size()).append(" elements, hash=")
                    .append(TextSyntax.hashText(TextSyntax.contentHash(t))).append('>');
        } else {
            appendDense(sb, t);
        }
        sb.append('\n');
    }

    /** {@code dense<a, b, ...>}, or {@code dense<a>} when every element has the same bits (a splat). */
    static void appendDense(StringBuilder sb, Tensor t) {
        sb.append("dense<");
        int n = t.size();
        boolean splat = n > 0;
        for (int i = 1; i < n && splat; i++) splat = TextSyntax.sameBits(t, 0, i);
        int shown = splat ? Math.min(n, 1) : n;
        for (int i = 0; i < shown; i++) {
            if (i > 0) sb.append(", ");
            TextSyntax.appendElement(sb, t, i);
        }
        sb.append('>');
    }

    private void node(Node n, int level) {
        indent(level);
        List<Value> outs = n.outputs();
        for (int i = 0; i < outs.size(); i++) {
            if (i > 0) sb.append(", ");
            value(outs.get(i));
        }
        if (!outs.isEmpty()) sb.append(" = ");
        sb.append(opName(n.opName())).append('(');
        for (int i = 0; i < n.numInputs(); i++) {
            if (i > 0) sb.append(", ");
            Value in = n.input(i);
            if (in == null) sb.append("none");
            else value(in);
        }
        sb.append(')');
        if (!n.attrs().isEmpty()) appendAttributes(sb.append(' '), n.attrs());
        for (int i = 0; i < outs.size(); i++) sb.append(i == 0 ? " : " : ", ").append(type(outs.get(i).type()));
        if (outs.isEmpty() || !n.name().equals(outs.get(0).name())) sb.append(" loc(").append(TextSyntax.quote(n.name())).append(')');
        if (n.body() != null) {
            sb.append(" body {\n");
            graph(n.body(), level + 1);
            indent(level);
            sb.append('}');
        }
        sb.append('\n');
    }

    /** Op names print bare unless they are not identifiers or collide with statement keywords. */
    static String opName(String name) {
        boolean keyword = name.equals("return") || name.equals("loc") || name.equals("body");
        return keyword ? TextSyntax.quote(name) : TextSyntax.identOrQuoted(name);
    }

    /** {@code {name=value, ...}} in insertion order. */
    static StringBuilder appendAttributes(StringBuilder sb, Attributes attrs) {
        sb.append('{');
        boolean first = true;
        for (Map.Entry<String, AttrValue> e : attrs.asMap().entrySet()) {
            if (!first) sb.append(", ");
            first = false;
            sb.append(TextSyntax.identOrQuoted(e.getKey())).append('=');
            appendAttr(sb, e.getValue());
        }
        return sb.append('}');
    }

    private static void appendAttr(StringBuilder sb, AttrValue v) {
        switch (v) {
            case AttrValue.Int i -> sb.append(i.value());
            case AttrValue.Float f -> TextSyntax.appendFloat(sb, f.value());
            case AttrValue.Str s -> sb.append(TextSyntax.quote(s.value()));
            case AttrValue.Ints is -> {
                long[] a = is.values();
                sb.append('[');
                for (int i = 0; i < a.length; i++) { if (i > 0) sb.append(','); sb.append(a[i]); }
                sb.append(']');
            }
            case AttrValue.Floats fs -> {
                float[] a = fs.values();
                sb.append('[');
                for (int i = 0; i < a.length; i++) { if (i > 0) sb.append(','); TextSyntax.appendFloat(sb, a[i]); }
                sb.append(a.length == 0 ? "]f" : "]");
            }
            case AttrValue.Strs ss -> {
                List<String> a = ss.values();
                sb.append('[');
                for (int i = 0; i < a.size(); i++) { if (i > 0) sb.append(','); sb.append(TextSyntax.quote(a.get(i))); }
                sb.append(a.isEmpty() ? "]s" : "]");
            }
            case AttrValue.TensorValue tv -> {
                appendDense(sb, tv.value());
                sb.append(" : ").append(type(tv.value().type()));
            }
        }
    }
}

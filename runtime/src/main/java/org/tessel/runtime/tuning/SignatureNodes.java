package org.tessel.runtime.tuning;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;

/**
 * Rebuilds, from a timing-cache signature alone, a node the cost model can price: so a cache
 * file is enough to compare the model's predictions with the measurements (no graph, no GPU).
 *
 * <p>A signature is {@link TimingCache#signature}'s text {@code OP[BODY OPS]{ATTRS}(INPUT TYPES)->OUTPUT TYPES@PRECISION};
 * the auto-tuner keys a fused convolution as the fused node's signature, then {@code |} and its
 * body Conv's signature (which carries the convolution's attributes). Rebuilt are: plain nodes of
 * any op (inputs become graph inputs, constants included: the model reads only their types), and
 * fused {@code conv_bias_act} nodes, whose body is the pattern's chain Conv [-> Add residual]
 * [-> activation]. A Clip activation is rebuilt as Relu: the tuner times cuDNN's fused ReLU call
 * and runs the clamp as a separate kernel, which is not part of the measurement. Anything else
 * fails naming the signature.
 */
public final class SignatureNodes {
    private SignatureNodes() {}

    /** A parsed signature (one node; {@code anchor} is the body Conv's signature of a fused key, else null). */
    public record Parsed(String op, List<String> bodyOps, Attributes attrs, List<TensorType> inputs, List<Boolean> constant,
                         List<TensorType> outputs, String precision, Parsed anchor) {}

    /** The precision suffix ({@code FP16}). */
    public static String precision(String signature) { return parse(signature).precision(); }

    /** The layout of the node's first activation input (NCHW when the signature names none). */
    public static Layout layout(String signature) {
        Parsed p = parse(signature);
        for (int i = 0; i < p.inputs().size(); i++) {
            TensorType t = p.inputs().get(i);
            if (t != null && !p.constant().get(i) && t.layout() != Layout.ANY) return t.layout();
        }
        for (TensorType t : p.outputs()) if (t.layout() != Layout.ANY) return t.layout();
        return Layout.NCHW;
    }

    /** The node's op, or {@code tessel.Fused:KIND} for a fused node. */
    public static String opOf(String signature) {
        Parsed p = parse(signature);
        return p.bodyOps().isEmpty() ? p.op() : p.op() + ":" + p.attrs().getString("kind", "?");
    }

    public static Parsed parse(String signature) {
        try {
            int bar = signature.indexOf('|');
            if (bar >= 0) {
                Parsed outer = parseOne(signature.substring(0, bar));
                Parsed inner = parseOne(signature.substring(bar + 1));
                return new Parsed(outer.op, outer.bodyOps, outer.attrs, outer.inputs, outer.constant, outer.outputs, outer.precision, inner);
            }
            return parseOne(signature);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("timing-cache signature '" + signature + "': " + e.getMessage(), e);
        }
    }

    private static Parsed parseOne(String s) {
        int i = 0;
        while (i < s.length() && s.charAt(i) != '[' && s.charAt(i) != '{') i++;
        String op = s.substring(0, i);
        if (op.isEmpty()) throw new IllegalArgumentException("no op name");
        List<String> body = new ArrayList<>();
        if (i < s.length() && s.charAt(i) == '[') {
            int close = s.indexOf(']', i);
            if (close < 0) throw new IllegalArgumentException("unterminated body op list");
            for (String b : s.substring(i + 1, close).split(",")) if (!b.isBlank()) body.add(b.trim());
            i = close + 1;
        }
        if (i >= s.length() || s.charAt(i) != '{') throw new IllegalArgumentException("expected '{' (attributes) at " + i);
        int close = s.indexOf("}(", i);
        if (close < 0) throw new IllegalArgumentException("unterminated attributes");
        Attributes attrs = attrs(s.substring(i + 1, close));
        i = close + 1;
        int arrow = s.indexOf(")->", i);
        if (arrow < 0) throw new IllegalArgumentException("expected '(INPUTS)->OUTPUTS'");
        List<TensorType> ins = new ArrayList<>();
        List<Boolean> constant = new ArrayList<>();
        for (String t : splitTop(s.substring(i + 1, arrow))) {
            if (t.equals("none")) { ins.add(null); constant.add(false); continue; }
            boolean c = t.endsWith("c");
            ins.add(type(c ? t.substring(0, t.length() - 1) : t));
            constant.add(c);
        }
        int at = s.lastIndexOf('@');
        if (at < arrow) throw new IllegalArgumentException("no '@PRECISION' suffix");
        List<TensorType> outs = new ArrayList<>();
        for (String t : splitTop(s.substring(arrow + 3, at))) outs.add(type(t));
        return new Parsed(op, body, attrs, ins, constant, outs, s.substring(at + 1), null);
    }

    private static List<String> splitTop(String s) {
        List<String> out = new ArrayList<>();
        int depth = 0, start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '[' || c == '{') depth++;
            else if (c == ']' || c == '}') depth--;
            else if (c == ',' && depth == 0) { out.add(s.substring(start, i).trim()); start = i + 1; }
        }
        if (!s.isBlank()) out.add(s.substring(start).trim());
        return out;
    }

    static TensorType type(String t) {
        int lb = t.indexOf('['), rb = t.indexOf(']');
        if (lb < 0 || rb < lb) throw new IllegalArgumentException("bad type '" + t + "'");
        DType d = DType.fromText(t.substring(0, lb)).orElseThrow(() -> new IllegalArgumentException("unknown dtype in '" + t + "'"));
        String dims = t.substring(lb + 1, rb);
        int[] ds = dims.isEmpty() ? new int[0] : java.util.Arrays.stream(dims.split(",")).mapToInt(x -> Integer.parseInt(x.trim())).toArray();
        Layout l = Layout.ANY;
        String rest = t.substring(rb + 1);
        if (rest.startsWith("{") && rest.endsWith("}"))
            l = Layout.fromText(rest.substring(1, rest.length() - 1)).orElseThrow(() -> new IllegalArgumentException("unknown layout in '" + t + "'"));
        else if (!rest.isEmpty()) throw new IllegalArgumentException("bad type '" + t + "'");
        return new TensorType(d, Shape.of(ds), l);
    }

    private static Attributes attrs(String s) {
        Attributes.Builder b = Attributes.builder();
        for (String e : s.split(";")) {
            if (e.isBlank()) continue;
            int eq = e.indexOf('=');
            if (eq < 1) throw new IllegalArgumentException("attribute '" + e + "' is not KEY=VALUE");
            b.put(e.substring(0, eq), value(e.substring(eq + 1)));
        }
        return b.build();
    }

    private static AttrValue value(String v) {
        if (v.startsWith("[") && v.endsWith("]")) {
            String inner = v.substring(1, v.length() - 1).trim();
            String[] parts = inner.isEmpty() ? new String[0] : inner.split(",\\s*");
            try {
                long[] ls = new long[parts.length];
                for (int i = 0; i < parts.length; i++) ls[i] = Long.parseLong(parts[i].trim());
                return AttrValue.of(ls);
            } catch (NumberFormatException notInts) {
                try {
                    float[] fs = new float[parts.length];
                    for (int i = 0; i < parts.length; i++) fs[i] = Float.parseFloat(parts[i].trim());
                    return AttrValue.of(fs);
                } catch (NumberFormatException notFloats) {
                    return new AttrValue.Strs(java.util.Arrays.stream(parts).map(String::trim).toList());
                }
            }
        }
        try { return AttrValue.of(Long.parseLong(v)); } catch (NumberFormatException e) { /* not an int */ }
        if (v.matches("-?(\\d+\\.\\d*([eE][-+]?\\d+)?|Infinity|NaN|\\d+[eE][-+]?\\d+)")) return AttrValue.of(Float.parseFloat(v));
        return AttrValue.of(v);
    }

    /** The node the signature describes, in a graph of its own. */
    public static Node rebuild(String signature) {
        Parsed p = parse(signature);
        try {
            return p.bodyOps().isEmpty() ? plain(p) : fused(p);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("timing-cache signature '" + signature + "': cannot rebuild the node: " + e.getMessage(), e);
        }
    }

    private static Node plain(Parsed p) {
        Graph g = new Graph("signature");
        List<Value> ins = inputs(g, p.inputs());
        Node n = g.insertNode(0, OpRegistry.global().get(p.op()), "node", ins, p.attrs(), p.outputs(), null, null);
        g.setOutputs(n.outputs());
        return n;
    }

    private static List<Value> inputs(Graph g, List<TensorType> types) {
        List<Value> ins = new ArrayList<>();
        for (int i = 0; i < types.size(); i++) ins.add(types.get(i) == null ? null : g.addInput("in" + i, types.get(i)));
        return ins;
    }

    private static Node fused(Parsed p) {
        String kind = p.attrs().getString("kind", "");
        if (!kind.equals("conv_bias_act")) throw new IllegalArgumentException("fused kind '" + kind + "' (rebuilt: conv_bias_act)");
        if (p.anchor() == null || !p.anchor().op().equals("Conv")) throw new IllegalArgumentException("a fused conv_bias_act key needs '|' and its body Conv's signature");
        if (p.bodyOps().isEmpty() || !p.bodyOps().get(0).equals("Conv")) throw new IllegalArgumentException("body " + p.bodyOps() + " does not start with Conv");
        Graph body = new Graph(kind);
        List<Value> bin = inputs(body, p.inputs());
        OpRegistry reg = OpRegistry.global();
        int convIns = p.anchor().inputs().size(), next = convIns;
        if (convIns > bin.size()) throw new IllegalArgumentException("the Conv takes " + convIns + " inputs, the fused node has " + bin.size());
        TensorType convOut = p.anchor().outputs().get(0);
        Value cur = body.insertNode(0, reg.get("Conv"), "conv", bin.subList(0, convIns), p.anchor().attrs(), List.of(convOut), null, null).output();
        for (String op : p.bodyOps().subList(1, p.bodyOps().size())) {
            switch (op) {
                case "Add" -> {
                    if (next >= bin.size()) throw new IllegalArgumentException("Add has no residual input left");
                    cur = body.insertNode(body.size(), reg.get("Add"), "add", List.of(cur, bin.get(next++)), Attributes.empty(), List.of(cur.type()), null, null).output();
                }
                case "Relu", "Clip" -> cur = body.insertNode(body.size(), reg.get("Relu"), "relu", List.of(cur), Attributes.empty(), List.of(cur.type()), null, null).output();
                // the activation kernel after the epilogue costs the same whatever its parameters: default attributes
                case "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Gelu" ->
                        cur = body.insertNode(body.size(), reg.get(op), op.toLowerCase(java.util.Locale.ROOT), List.of(cur), Attributes.empty(), List.of(cur.type()), null, null).output();
                default -> throw new IllegalArgumentException("body op " + op + " (rebuilt: Conv, Add, Relu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu, Gelu)");
            }
        }
        body.addOutput(cur);
        Graph g = new Graph("signature");
        List<Value> ins = inputs(g, p.inputs());
        Node n = g.insertNode(0, reg.get(TesselOps.FUSED), "fused", ins, p.attrs(), p.outputs(), null, body);
        g.setOutputs(n.outputs());
        return n;
    }
}

package org.tessel.ir.text;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;

/**
 * Random small, valid graphs over {@link TestOps}: random shapes, dtypes, layouts, constants with
 * awkward values (NaN payloads, -0.0, extremes), every attribute kind, awkward names, omitted
 * inputs, multi-result and result-less nodes, and nested bodies.
 */
final class RandomGraphs {
    private final SplittableRandom r;
    /** When set, value names are unique across nested bodies too (needed to resolve elided constants by name). */
    private final Set<String> globalNames;
    private int counter;

    private RandomGraphs(SplittableRandom r, boolean globallyUniqueNames) {
        this.r = r;
        this.globalNames = globallyUniqueNames ? new HashSet<>() : null;
    }

    static Graph generate(long seed, boolean globallyUniqueNames) {
        RandomGraphs gen = new RandomGraphs(new SplittableRandom(seed), globallyUniqueNames);
        Graph g = gen.graph(null, 0);
        Verifier.verify(g);
        return g;
    }

    private static final List<String> NAME_POOL = List.of("x", "y", "conv", "/layer1/Conv_output_0", "onnx::Add_5", "onnx::Conv 12",
            "ends:", "q\"uote", "back\\slash", "new\nline", "", "none", "return", "constant", "0", "-1", "$a.b", "ünï", "a#b",
            "tab\there", "a:b", "a::b", "::", "loc", "graph", "\u0001ctl", "\ud800lone");

    private static final List<String> STRING_POOL = List.of("", "NOTSET", "conv_relu", "with \"quotes\"", "back\\slash", "line\nbreak",
            "\u00e9\u4e2d", "\u0000\u001f\u007f", "\ud83d\ude00", "\udc00", "]", "\\u0041");

    private String name(Set<String> local) {
        String base = r.nextInt(3) == 0 ? "v" + counter++ : NAME_POOL.get(r.nextInt(NAME_POOL.size()));
        String n = base;
        while (local.contains(n) || (globalNames != null && globalNames.contains(n))) n = base + "_" + counter++;
        local.add(n);
        if (globalNames != null) globalNames.add(n);
        return n;
    }

    private DType dtype() { return DType.values()[r.nextInt(DType.values().length)]; }

    private Shape shape(int maxRank) {
        int rank = r.nextInt(maxRank + 1);
        int[] d = new int[rank];
        for (int i = 0; i < rank; i++) d[i] = r.nextInt(10) == 0 ? 0 : 1 + r.nextInt(3);
        return Shape.of(d);
    }

    private Layout layout() {
        int k = r.nextInt(6);
        return k == 0 ? Layout.NCHW : k == 1 ? Layout.NHWC : Layout.ANY;
    }

    private float floatValue() {
        return switch (r.nextInt(8)) {
            case 0 -> Float.NaN;
            case 1 -> -0f;
            case 2 -> Float.intBitsToFloat(r.nextInt());
            case 3 -> r.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
            case 4 -> r.nextBoolean() ? Float.MIN_VALUE : -Float.MAX_VALUE;
            default -> (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-8, 9)));
        };
    }

    private double doubleValue() {
        return switch (r.nextInt(6)) {
            case 0 -> Double.longBitsToDouble(r.nextLong());
            case 1 -> -0.0;
            case 2 -> r.nextBoolean() ? Double.NaN : Double.MIN_VALUE;
            default -> r.nextGaussian() * Math.pow(10, r.nextInt(-30, 31));
        };
    }

    Tensor tensor(DType dt, Shape s) {
        Tensor t = Tensor.zeros(dt, s);
        int n = t.size();
        boolean splat = r.nextInt(5) == 0;
        for (int i = 0; i < n; i++) {
            if (splat && i > 0) {
                switch (dt.storage()) {
                    case FLOAT -> t.floats()[i] = t.floats()[0];
                    case DOUBLE -> t.doubles()[i] = t.doubles()[0];
                    case LONG -> t.longs()[i] = t.longs()[0];
                }
                continue;
            }
            switch (dt) {
                case F32 -> t.floats()[i] = floatValue();
                case F16 -> t.floats()[i] = r.nextBoolean() ? Float.float16ToFloat((short) r.nextInt()) : Tensor.round(DType.F16, floatValue());
                case BF16 -> t.floats()[i] = r.nextBoolean() ? Float.intBitsToFloat(r.nextInt() & 0xFFFF0000) : Tensor.roundBf16(floatValue());
                case F64 -> t.doubles()[i] = doubleValue();
                case I8 -> t.longs()[i] = (byte) r.nextInt();
                case U8 -> t.longs()[i] = r.nextInt(256);
                case I32 -> t.longs()[i] = r.nextInt();
                case I64 -> t.longs()[i] = r.nextBoolean() ? r.nextLong() : r.nextInt(-3, 4);
                case BOOL -> t.longs()[i] = r.nextBoolean() ? 1 : 0;
            }
        }
        return t;
    }

    private AttrValue randomAttr(String kind) {
        return switch (kind) {
            case "i" -> new AttrValue.Int(r.nextBoolean() ? r.nextLong() : r.nextInt(-5, 6));
            case "f" -> new AttrValue.Float(floatValue());
            case "s" -> new AttrValue.Str(STRING_POOL.get(r.nextInt(STRING_POOL.size())));
            case "ints" -> new AttrValue.Ints(r.longs(r.nextInt(4), -100, 100).toArray());
            case "floats" -> {
                float[] f = new float[r.nextInt(4)];
                for (int i = 0; i < f.length; i++) f[i] = floatValue();
                yield new AttrValue.Floats(f);
            }
            case "strs" -> {
                List<String> s = new ArrayList<>();
                for (int i = r.nextInt(4); i > 0; i--) s.add(STRING_POOL.get(r.nextInt(STRING_POOL.size())));
                yield new AttrValue.Strs(s);
            }
            case "t" -> new AttrValue.TensorValue(tensor(dtype(), shape(2)));
            default -> new AttrValue.Int(r.nextInt(3));
        };
    }

    private Value pick(List<Value> vs) { return vs.get(r.nextInt(vs.size())); }

    private Graph graph(List<TensorType> inputTypes, int depth) {
        Set<String> names = new HashSet<>();
        Graph g = new Graph(name(new HashSet<>()));
        List<Value> avail = new ArrayList<>();
        int nIn = inputTypes != null ? inputTypes.size() : 1 + r.nextInt(3);
        for (int i = 0; i < nIn; i++) {
            TensorType t = inputTypes != null ? inputTypes.get(i) : new TensorType(dtype(), shape(4), layout());
            avail.add(g.addInput(name(names), t));
        }
        for (int i = r.nextInt(4); i > 0; i--) {
            Tensor t = tensor(dtype(), shape(3));
            avail.add(g.addConstantExact(name(names), t, r.nextInt(5) == 0 ? t.type().withLayout(Layout.NHWC) : t.type()));
        }
        Set<String> nodeNames = new HashSet<>();
        for (int k = r.nextInt(7); k > 0; k--) {
            Node n = switch (r.nextInt(8)) {
                case 0, 1 -> pass(g, avail, names, nodeNames);
                case 2 -> relu(g, avail, names, nodeNames);
                case 3 -> add(g, avail, names, nodeNames);
                case 4 -> split(g, avail, names, nodeNames);
                case 5 -> depth < 2 ? fused(g, avail, names, nodeNames, depth) : pass(g, avail, names, nodeNames);
                case 6 -> insert(g, "Sink", List.of(pick(avail)), Attributes.empty(), 0, names, nodeNames);
                default -> insert(g, "Gen", List.of(), Attributes.builder().put("ints", shape(3).longDims()).build(), 1, names, nodeNames);
            };
            if (n == null) continue;
            for (Value o : n.outputs()) {
                if (r.nextInt(6) == 0) o.setType(o.type().withLayout(r.nextBoolean() ? Layout.NCHW : Layout.NHWC));
                avail.add(o);
            }
        }
        // graph outputs are distinct values (the verifier requires it)
        List<Value> outs = new ArrayList<>();
        for (int i = 1 + r.nextInt(3); i > 0; i--) {
            Value v = pick(avail);
            if (!outs.contains(v)) outs.add(v);
        }
        g.setOutputs(outs);
        return g;
    }

    private Node insert(Graph g, String op, List<Value> ins, Attributes attrs, int numOut, Set<String> names, Set<String> nodeNames) {
        return insert(g, op, ins, attrs, numOut, names, nodeNames, null);
    }

    private Node insert(Graph g, String op, List<Value> ins, Attributes attrs, int numOut, Set<String> names, Set<String> nodeNames, Graph body) {
        var schema = TestOps.REGISTRY.get(op);
        List<String> outNames = new ArrayList<>();
        for (int i = 0; i < numOut; i++) outNames.add(name(names));
        String nodeName;
        if (numOut > 0 && r.nextInt(3) > 0 && !nodeNames.contains(outNames.get(0))) nodeName = outNames.get(0);
        else {
            nodeName = r.nextBoolean() ? op.toLowerCase() + "_" + counter++ : NAME_POOL.get(r.nextInt(NAME_POOL.size()));
            while (nodeNames.contains(nodeName)) nodeName = nodeName + "_" + counter++;
        }
        nodeNames.add(nodeName);
        // a node with a body has its body's result types (as the verifier and parser require)
        List<TensorType> types = body != null ? body.outputs().stream().map(Value::type).toList()
                : Graph.inferTypes(schema, nodeName, ins, attrs, numOut);
        return g.insertNode(g.nodes().size(), schema, nodeName, ins, attrs, types, outNames, body);
    }

    private Node pass(Graph g, List<Value> avail, Set<String> names, Set<String> nodeNames) {
        List<Value> ins = new ArrayList<>();
        ins.add(pick(avail));
        for (int i = r.nextInt(4); i > 0; i--) ins.add(r.nextInt(3) == 0 ? null : pick(avail));
        Attributes.Builder b = Attributes.builder();
        List<String> kinds = new ArrayList<>(List.of("i", "f", "s", "ints", "floats", "strs", "t", "odd name"));
        for (int i = kinds.size() - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            String tmp = kinds.get(i);
            kinds.set(i, kinds.get(j));
            kinds.set(j, tmp);
        }
        for (String k : kinds.subList(0, r.nextInt(kinds.size() + 1))) b.put(k, randomAttr(k));
        return insert(g, "Pass", ins, b.build(), 1 + r.nextInt(3), names, nodeNames);
    }

    private Node relu(Graph g, List<Value> avail, Set<String> names, Set<String> nodeNames) {
        List<Value> fl = avail.stream().filter(v -> v.type().dtype().isFloating()).toList();
        if (fl.isEmpty()) return null;
        String op = r.nextInt(4) == 0 ? "test.alt.Relu" : "Relu";
        return insert(g, op, List.of(pick(fl)), Attributes.empty(), 1, names, nodeNames);
    }

    private Node add(Graph g, List<Value> avail, Set<String> names, Set<String> nodeNames) {
        Value a = pick(avail);
        Value b = a;
        if (r.nextBoolean() && a.type().rank() > 0) {
            Shape s = Shape.of(a.type().shape().dim(-1));
            b = g.addConstantExact(name(names), tensor(a.type().dtype(), s), TensorType.of(a.type().dtype(), s));
        }
        return insert(g, "Add", List.of(a, b), Attributes.empty(), 1, names, nodeNames);
    }

    private Node split(Graph g, List<Value> avail, Set<String> names, Set<String> nodeNames) {
        List<Value> ranked = avail.stream().filter(v -> v.type().rank() > 0 && v.type().shape().dim(-1) > 0).toList();
        if (ranked.isEmpty()) return null;
        Value x = pick(ranked);
        int rank = x.type().rank();
        int axis = rank - 1;
        int len = x.type().shape().dim(axis);
        int c = r.nextInt(3);
        // without the attribute the axis is 0, which is the last axis only for rank 1
        Attributes attrs = c == 0 && rank == 1 ? Attributes.empty() : Attributes.builder().put("axis", (long) (c == 2 ? -1 : axis)).build();
        if (r.nextBoolean()) {
            int k = 1 + r.nextInt(3);
            long[] sizes = new long[k];
            long left = len;
            for (int i = 0; i < k - 1; i++) { sizes[i] = r.nextInt((int) left + 1); left -= sizes[i]; }
            sizes[k - 1] = left;
            Value sv = g.addConstantExact(name(names), Tensor.ofLongs(DType.I64, Shape.of(k), sizes.clone()), TensorType.of(DType.I64, k));
            return insert(g, "Split", List.of(x, sv), attrs, k, names, nodeNames);
        }
        int k = len % 3 == 0 && len >= 3 ? 3 : len % 2 == 0 ? 2 : 1;
        return insert(g, "Split", List.of(x), attrs, k, names, nodeNames);
    }

    private Node fused(Graph g, List<Value> avail, Set<String> names, Set<String> nodeNames, int depth) {
        List<Value> ins = new ArrayList<>();
        for (int i = 1 + r.nextInt(2); i > 0; i--) ins.add(pick(avail));
        int numOut = 1 + r.nextInt(2);
        Graph body = graph(ins.stream().map(Value::type).toList(), depth + 1);
        // the body's results are the node's: trim or pad its outputs to the node's count
        List<Value> bodyOuts = new ArrayList<>(body.outputs());
        while (bodyOuts.size() > numOut) bodyOuts.remove(bodyOuts.size() - 1);
        for (Value in : body.inputs()) if (bodyOuts.size() < numOut && !bodyOuts.contains(in)) bodyOuts.add(in);
        numOut = bodyOuts.size();
        body.setOutputs(bodyOuts);
        Attributes attrs = r.nextBoolean() ? Attributes.builder().put("kind", "copy").build() : Attributes.empty();
        return insert(g, "Fused", ins, attrs, numOut, names, nodeNames, body);
    }
}

package org.tessel.ir.onnx;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.AttrValue;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.onnx.OnnxImportException.Kind;

/**
 * Rewrites nodes written against an older opset of the default ONNX domain into the form the IR's
 * ops implement (opset 21): attributes that later became inputs turn into constant inputs,
 * deprecated ops become their successors, and ops whose meaning changed (Softmax's "coerce to 2-D"
 * before opset 13) become an exact equivalent built from current ops.
 *
 * <p>Each rule fires on the model's opset for the domain, so a node already in the current form
 * passes through untouched. Opsets 22 to 28 are taken as opset 21: their new op versions changed
 * types, text or added attributes (see {@link Opsets}), and newer ones are refused.
 */
final class LegacyForms {
    private LegacyForms() {}

    /** A node on its way into the graph, still named by ONNX value names (null where an optional input is absent). */
    record PendingNode(String name, String opType, String domain, List<String> inputs, Map<String, AttrValue> attrs, List<String> outputs) {
        PendingNode {
            inputs = new ArrayList<>(inputs);
            attrs = new LinkedHashMap<>(attrs);
            outputs = List.copyOf(outputs);
        }

        PendingNode withOp(String op) { return new PendingNode(name, op, domain, inputs, attrs, outputs); }
        PendingNode with(List<String> in, Map<String, AttrValue> at) { return new PendingNode(name, opType, domain, in, at, outputs); }
    }

    /** What a rewrite may ask of the importer. */
    interface Context {
        TensorType typeOf(String value);

        /** Adds a constant and returns its (fresh) value name. */
        String constant(String base, Tensor t);

        /** A value name not used anywhere in the model. */
        String freshValue(String base);

        /** Whether any node or graph output reads the value. */
        boolean isUsed(String value);

        /** Where the node is, for error messages. */
        String where();
    }

    private static final java.util.Set<String> REDUCE_18 = java.util.Set.of("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
            "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare");
    private static final java.util.Set<String> LEGACY_BROADCAST = java.util.Set.of("Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor",
            "Equal", "Greater", "Less", "PRelu");

    /** The node in current form: usually one node, several where an old meaning needs a small subgraph. */
    static List<PendingNode> rewrite(PendingNode n, long opset, Context c) {
        Map<String, AttrValue> a = new LinkedHashMap<>(n.attrs());
        List<String> in = new ArrayList<>(n.inputs());
        // consumed_inputs (opset < 6) was an in-place memory hint; it never changed results
        a.remove("consumed_inputs");
        // every rule reads input 0; without it the op's own arity check gives the clearer message
        if (in.isEmpty() || in.getFirst() == null) return List.of(n.with(in, a));
        switch (n.opType()) {
            case "Clip" -> {
                if (opset < 11) {
                    AttrValue lo = a.remove("min"), hi = a.remove("max");
                    DType t = c.typeOf(in.get(0)).dtype();
                    in = list(in.get(0), lo == null ? null : c.constant(n.name() + "_min", Tensor.scalar(t, floatOf(lo, c))),
                            hi == null ? null : c.constant(n.name() + "_max", Tensor.scalar(t, floatOf(hi, c))));
                }
            }
            case "Squeeze", "Unsqueeze" -> {
                if (opset < 13) in = attrToInput(n, a, in, "axes", 1, c);
            }
            case "Split" -> {
                if (opset < 13) in = attrToInput(n, a, in, "split", 1, c);
                if (opset < 18 && (in.size() < 2 || in.get(1) == null) && !a.containsKey("num_outputs"))
                    a.put("num_outputs", AttrValue.of((long) n.outputs().size()));
            }
            case "Slice" -> {
                if (opset < 10) {
                    String x = in.get(0);
                    String starts = ints(n, a.remove("starts"), "starts", c), ends = ints(n, a.remove("ends"), "ends", c);
                    String axes = ints(n, a.remove("axes"), "axes", c);
                    if (starts == null || ends == null) throw bad(c, "opset-" + opset + " Slice needs attributes 'starts' and 'ends'");
                    in = axes == null ? list(x, starts, ends) : list(x, starts, ends, axes);
                }
            }
            case "QuantizeLinear", "DequantizeLinear" -> {
                // opsets 10-12 quantize per tensor only: a scale of more than one element (per-axis) came with opset 13
                if (opset < 13 && in.size() > 1 && in.get(1) != null && c.typeOf(in.get(1)).shape().numElements() != 1)
                    throw bad(c, "opset-" + opset + " " + n.opType() + " has a per-axis scale of shape " + c.typeOf(in.get(1)).shape()
                            + "; per-axis (de)quantization needs opset 13 or later (convert the model to opset 13+)");
                if (opset < 13) a.remove("axis");
            }
            case "Reshape" -> {
                if (opset < 5) in = attrToInput(n, a, in, "shape", 1, c);
            }
            case "ReduceSum" -> {
                if (opset < 13) in = attrToInput(n, a, in, "axes", 1, c);
            }
            case "Pad" -> {
                if (opset < 11) {
                    AttrValue pads = a.remove("pads");
                    if (pads == null) pads = a.remove("paddings");
                    AttrValue value = a.remove("value");
                    if (pads == null) throw bad(c, "opset-" + opset + " Pad needs attribute 'pads'");
                    DType t = c.typeOf(in.get(0)).dtype();
                    in = list(in.get(0), ints(n, pads, "pads", c),
                            c.constant(n.name() + "_value", Tensor.scalar(t, value == null ? 0 : floatOf(value, c))));
                }
            }
            case "Upsample" -> { return List.of(upsample(n, a, in, opset, c)); }
            case "Resize" -> {
                if (opset < 11) {
                    in = list(in.get(0), null, in.size() > 1 ? in.get(1) : null);
                    a.putIfAbsent("coordinate_transformation_mode", AttrValue.of("asymmetric"));
                    if (stringOf(a.get("mode"), "nearest").equals("nearest")) a.putIfAbsent("nearest_mode", AttrValue.of("floor"));
                }
                // opsets 11 and 12 required roi and scales, passing empty tensors for "not given"
                for (int i = 1; i <= 2 && i < in.size(); i++) {
                    if (in.get(i) != null && c.typeOf(in.get(i)).numElements() == 0) in.set(i, null);
                }
            }
            case "Dropout" -> {
                a.remove("is_test");
                if (opset < 12) {
                    AttrValue ratio = a.remove("ratio");
                    if (ratio != null) in = list(in.get(0), c.constant(n.name() + "_ratio", Tensor.scalar(DType.F32, floatOf(ratio, c))));
                }
            }
            case "BatchNormalization" -> {
                a.remove("is_test");
                AttrValue spatial = a.remove("spatial");
                if (spatial instanceof AttrValue.Int s && s.value() == 0 && in.size() > 1 && c.typeOf(in.get(1)).rank() != 1)
                    throw new OnnxImportException(Kind.UNSUPPORTED_FEATURE, "BatchNormalization spatial=0",
                            c.where() + ": BatchNormalization with spatial=0 (per-activation statistics, opset < 9) is not supported");
                // before opset 14 inference-mode nodes could still list the training statistics as outputs
                if (opset < 14 && n.outputs().size() > 1 && n.outputs().subList(1, n.outputs().size()).stream().noneMatch(c::isUsed))
                    return List.of(new PendingNode(n.name(), n.opType(), n.domain(), trimmed(in), a, List.of(n.outputs().getFirst())));
            }
            case "Softmax", "LogSoftmax", "Hardmax" -> {
                if (opset < 13) return coerceTo2d(n, a, in, c);
            }
            case "Gemm" -> {
                if (opset < 7) a.remove("broadcast");
            }
            case "TopK" -> {
                if (opset < 10) {
                    AttrValue k = a.remove("k");
                    if (k == null) throw bad(c, "opset-" + opset + " TopK needs attribute 'k'");
                    in = list(in.get(0), c.constant(n.name() + "_k", Tensor.ofLongs(DType.I64, Shape.of(1), longOf(k, c))));
                }
            }
            case "GatherND" -> {
                // GatherND-11 gathers without batch axes; batch_dims came with opset 12 (its default, 0, is opset 11's meaning)
                if (opset < 12 && a.containsKey("batch_dims"))
                    throw bad(c, "opset-" + opset + " GatherND has no attribute 'batch_dims' (it came with opset 12); convert the model to opset 12 or later");
            }
            case "Scatter" -> {
                // deprecated in opset 11 in favour of ScatterElements, which has the same inputs and meaning
                return List.of(n.with(in, a).withOp("ScatterElements"));
            }
            case "GridSample" -> {
                if (opset < 20 && a.get("mode") instanceof AttrValue.Str m) {
                    if (m.value().equals("bilinear")) a.put("mode", AttrValue.of("linear"));
                    if (m.value().equals("bicubic")) a.put("mode", AttrValue.of("cubic"));
                }
            }
            case "Concat" -> {
                if (opset < 4) a.putIfAbsent("axis", AttrValue.of(1L));
            }
            case "RNN", "GRU", "LSTM" -> {
                // opset 1's output_sequence only said whether Y is wanted; an unused output says that now
                if (opset < 7) a.remove("output_sequence");
            }
            case "Cast" -> {
                if (a.get("to") instanceof AttrValue.Str s) a.put("to", AttrValue.of(onnxTypeCode(s.value(), c)));
            }
            default -> {
                if (opset < 7 && LEGACY_BROADCAST.contains(n.opType())) {
                    if (a.containsKey("axis"))
                        throw new OnnxImportException(Kind.UNSUPPORTED_FEATURE, "legacy broadcast",
                                c.where() + ": broadcasting along attribute 'axis' (opset < 7) is not supported; convert the model to opset 7 or later");
                    a.remove("broadcast");
                }
                if (REDUCE_18.contains(n.opType()) && opset < 18) in = attrToInput(n, a, in, "axes", 1, c);
            }
        }
        return List.of(n.with(trimmed(in), a));
    }

    /** Trailing absent inputs dropped, so arity checks see only what is given. */
    private static List<String> trimmed(List<String> in) {
        List<String> out = new ArrayList<>(in);
        while (!out.isEmpty() && out.getLast() == null) out.removeLast();
        return out;
    }

    /** Upsample (deprecated in opset 10) is Resize with asymmetric coordinates and floor rounding. */
    private static PendingNode upsample(PendingNode n, Map<String, AttrValue> a, List<String> in, long opset, Context c) {
        String scales;
        if (opset < 9) {
            AttrValue s = a.remove("scales");
            if (!(s instanceof AttrValue.Floats f)) throw bad(c, "opset-" + opset + " Upsample needs a FLOATS attribute 'scales'");
            scales = c.constant(n.name() + "_scales", Tensor.ofFloats(Shape.of(f.values().length), f.values()));
        } else {
            if (in.size() < 2 || in.get(1) == null) throw bad(c, "Upsample needs input 'scales'");
            scales = in.get(1);
        }
        String mode = stringOf(a.remove("mode"), "nearest");
        if (mode.equals("bilinear")) mode = "linear";
        if (!a.isEmpty()) throw bad(c, "Upsample: unexpected attributes " + a.keySet());
        Map<String, AttrValue> ra = new LinkedHashMap<>();
        ra.put("mode", AttrValue.of(mode));
        ra.put("coordinate_transformation_mode", AttrValue.of("asymmetric"));
        if (mode.equals("nearest")) ra.put("nearest_mode", AttrValue.of("floor"));
        return new PendingNode(n.name(), "Resize", n.domain(), list(in.get(0), null, scales), ra, n.outputs());
    }

    /**
     * Before opset 13 Softmax, LogSoftmax and Hardmax flattened the input to 2-D at {@code axis}
     * (default 1) and normalized each row. When axis is the last dimension that is the current
     * meaning; otherwise Flatten, normalize rows, and Reshape back.
     */
    private static List<PendingNode> coerceTo2d(PendingNode n, Map<String, AttrValue> a, List<String> in, Context c) {
        TensorType t = c.typeOf(in.get(0));
        int r = t.rank();
        long axis = a.containsKey("axis") ? longOf(a.get("axis"), c) : 1;
        if (axis < 0) axis += r;
        if (r == 0 || axis < 0 || axis > r) throw bad(c, "axis " + longOf(a.getOrDefault("axis", AttrValue.of(1L)), c) + " is out of range for rank " + r);
        if (axis == r - 1 || r == 1) {
            a.put("axis", AttrValue.of(axis));
            return List.of(n.with(in, a));
        }
        String flat = c.freshValue(n.outputs().getFirst() + "_2d");
        String rows = c.freshValue(n.outputs().getFirst() + "_rows");
        String shape = c.constant(n.name() + "_shape", Tensor.ofLongs(DType.I64, Shape.of(r), t.shape().longDims()));
        Map<String, AttrValue> fa = new LinkedHashMap<>();
        fa.put("axis", AttrValue.of(axis));
        Map<String, AttrValue> sa = new LinkedHashMap<>(a);
        sa.put("axis", AttrValue.of(1L));
        return List.of(
                new PendingNode(n.name() + "_flatten", "Flatten", "", List.of(in.get(0)), fa, List.of(flat)),
                new PendingNode(n.name(), n.opType(), n.domain(), List.of(flat), sa, List.of(rows)),
                new PendingNode(n.name() + "_reshape", "Reshape", "", List.of(rows, shape), Map.of(), n.outputs()));
    }

    /** Moves an INTS attribute (axes, split...) to input position pos as an i64 constant. */
    private static List<String> attrToInput(PendingNode n, Map<String, AttrValue> a, List<String> in, String attr, int pos, Context c) {
        AttrValue v = a.remove(attr);
        if (v == null) return in;
        List<String> out = new ArrayList<>(in);
        while (out.size() < pos) out.add(null);
        String k = ints(n, v, attr, c);
        if (out.size() == pos) out.add(k); else out.add(pos, k);
        return out;
    }

    private static String ints(PendingNode n, AttrValue v, String attr, Context c) {
        if (v == null) return null;
        if (!(v instanceof AttrValue.Ints is)) throw bad(c, "attribute '" + attr + "' must be INTS, found " + v.kind());
        long[] vals = is.values();
        return c.constant(n.name() + "_" + attr, Tensor.ofLongs(DType.I64, Shape.of(vals.length), vals));
    }

    private static double floatOf(AttrValue v, Context c) {
        return switch (v) {
            case AttrValue.Float f -> f.value();
            case AttrValue.Int i -> i.value();
            default -> throw bad(c, "attribute must be FLOAT, found " + v.kind());
        };
    }

    private static long longOf(AttrValue v, Context c) {
        if (v instanceof AttrValue.Int i) return i.value();
        throw bad(c, "attribute must be INT, found " + v.kind());
    }

    private static String stringOf(AttrValue v, String dflt) { return v instanceof AttrValue.Str s ? s.value() : dflt; }

    private static long onnxTypeCode(String name, Context c) {
        for (int code = 1; code <= 16; code++) if (DType.onnxName(code).equalsIgnoreCase(name)) return code;
        throw bad(c, "Cast: unknown type name '" + name + "'");
    }

    private static OnnxImportException bad(Context c, String msg) {
        return new OnnxImportException(Kind.OP_ERROR, null, c.where() + ": " + msg);
    }

    private static List<String> list(String... s) {
        List<String> l = new ArrayList<>(s.length);
        for (String x : s) l.add(x);
        return l;
    }
}

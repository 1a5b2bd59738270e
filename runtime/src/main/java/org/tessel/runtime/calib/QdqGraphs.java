package org.tessel.runtime.calib;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;
import org.tessel.runtime.engine.PrecisionEmulation;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlannedNode;
import org.tessel.tactics.plan.QuantizationTable;

/**
 * A calibrated INT8 (or FP8: float8e4m3fn pairs, per-tensor E4M3 weights, no Clip) plan written back into the model as ONNX's explicit quantization: a copy of the
 * prepared graph with QuantizeLinear/DequantizeLinear pairs wherever the CPU engine's INT8 emulation
 * quantizes ({@link PrecisionEmulation}), so ONNX Runtime computes what the engine does. For each
 * node the plan runs at INT8 (a fused group: its members):
 * <ul>
 * <li>each floating activation input is quantized per tensor where the node's members read it;
 * <li>each output is quantized per tensor for every reader (the node stores it as int8);
 * <li>each convolution or matrix multiply weight becomes int8 codes and a per-axis DequantizeLinear
 *     (scale = channel amax / 127, or the plan's channel scales where it has them: a Q/DQ model's own,
 *     so its codes are written back as they were).
 * </ul>
 * ONNX's int8 range is [-128, 127] and TensorRT's symmetric one [-127, 127], so a Clip to
 * +-127 * scale goes before each QuantizeLinear.
 */
public final class QdqGraphs {
    private QdqGraphs() {}

    private static boolean allEqual(float[] s) {
        for (float v : s) if (Float.floatToIntBits(v) != Float.floatToIntBits(s[0])) return false;
        return true;
    }

    /** What was inserted. */
    public record Result(Graph graph, int activationPairs, int weights) {}

    /**
     * The prepared graph with the Q/DQ pairs of {@code plan} (applied to {@code prepared}, giving
     * {@code planned}); the prepared graph is left as it is.
     */
    public static Result insert(Graph prepared, Graph planned, EnginePlan plan) {
        Graph g = prepared.copy();
        QuantizationTable q = plan.quantization();
        Precision format = q.format();
        String fname = format.text().toUpperCase(java.util.Locale.ROOT);
        Map<String, PlannedNode> byName = plan.byName();
        Map<String, Float> producerSide = new LinkedHashMap<>(); // value -> scale, every reader
        Map<String, Map<String, Float>> readerSide = new LinkedHashMap<>(); // value -> (member node -> scale)
        Set<String> contractions = new LinkedHashSet<>();
        for (Node n : planned.nodes()) {
            PlannedNode p = byName.get(n.name());
            if (p == null || p.precision() != format || n.opName().equals(TesselOps.REFORMAT)) continue;
            List<Node> members = n.body() != null ? n.body().nodes() : List.of(n);
            for (Node m : members) {
                if (g.hasNodeNamed(m.name())) continue;
                throw new IllegalArgumentException(fname + " node '" + n.name() + "' holds node '" + m.name() + "', which the model does not have (a horizontal merge made it); "
                        + "export a plan without merges at " + fname);
            }
            for (Node m : members) if (PrecisionEmulation.weightChannelAxis(m) >= 0) contractions.add(m.name());
            for (int k = 0; k < n.numInputs(); k++) {
                Value v = n.input(k);
                if (v == null || v.isConstant() || !v.type().dtype().isFloating()) continue;
                float s = q.scale(v.name());
                if (Float.isNaN(s)) throw new IllegalArgumentException(n.describe() + ": the plan has no scale for its input %" + v.name());
                String source = modelName(v);
                // the members that read this input: in a fused body, the readers of the body input
                List<String> readers = new ArrayList<>();
                if (n.body() != null) for (Node b : n.body().users(n.body().inputs().get(k))) readers.add(b.name());
                else readers.add(n.name());
                for (String r : readers) readerSide.computeIfAbsent(source, x -> new LinkedHashMap<>()).put(r, s);
            }
            for (int k = 0; k < n.outputs().size(); k++) {
                Value v = n.output(k);
                if (!v.type().dtype().isFloating()) continue;
                float s = q.scale(v.name());
                if (Float.isNaN(s)) throw new IllegalArgumentException(n.describe() + ": the plan has no scale for its output %" + v.name());
                producerSide.put(modelName(v), s);
            }
        }
        int pairs = 0, weights = 0;
        OpRegistry ops = OpRegistry.global();
        OpSchema quant = ops.get("", "QuantizeLinear"), dequant = ops.get("", "DequantizeLinear"), clip = ops.get("", "Clip");
        for (var e : producerSide.entrySet()) {
            Value v = g.value(e.getKey());
            if (v == null) throw new IllegalArgumentException("the model has no tensor %" + e.getKey() + " for an " + fname + " node's output");
            String original = v.name();
            Node after = v.producer();
            g.renameValue(v, g.uniqueValueName(original + "_f32"));
            Value dq = pair(g, v, e.getValue(), original, after, quant, dequant, clip, format);
            // every reader (and a graph output) now reads the dequantized tensor, under the tensor's own name
            Node first = dq.producer().input(0).producer(); // the QuantizeLinear, or at INT8 the Clip before it
            if (format == Precision.INT8) first = first.input(0).producer();
            Node pairHead = first;
            for (Node u : new ArrayList<>(g.users(v))) if (u != pairHead) replaceIn(g, u, v, dq);
            List<Value> outs = new ArrayList<>(g.outputs());
            outs.replaceAll(o -> o == v ? dq : o);
            g.setOutputs(outs);
            pairs++;
        }
        for (var e : readerSide.entrySet()) {
            if (producerSide.containsKey(e.getKey())) continue; // already quantized for every reader, at the same scale
            Value v = g.value(e.getKey());
            if (v == null) throw new IllegalArgumentException("the model has no tensor %" + e.getKey() + " for an " + fname + " node's input");
            Map<Float, Value> made = new HashMap<>();
            for (var r : e.getValue().entrySet()) {
                Node reader = node(g, r.getKey());
                Value dq = made.computeIfAbsent(r.getValue(), s -> pair(g, v, s, g.uniqueValueName(v.name() + "_dq"), v.producer(), quant, dequant, clip, format));
                replaceIn(g, reader, v, dq);
            }
            pairs += made.size();
        }
        for (String name : contractions) {
            Node m = node(g, name);
            Value w = m.input(1);
            if (!w.isConstant() || w.type().dtype() != DType.F32) continue;
            int axis = PrecisionEmulation.weightChannelAxis(m);
            Tensor wt = w.constantValue();
            // the plan's channel scales for the weight (a Q/DQ model's own), else the engine's: INT8 amax/127 per channel, FP8 amax/448 per tensor
            float[] given = q.weightScales(w.name(), wt.shape().dim(axis));
            boolean perTensor = format == Precision.FP8 && (given == null || allEqual(given));
            float[] scales = given != null ? given : format == Precision.FP8 ? new float[] {PrecisionEmulation.fp8TensorScale(wt)} : PrecisionEmulation.channelScales(wt, axis);
            if (perTensor) scales = new float[] {scales[0]};
            int[] d = wt.shape().dims();
            int inner = 1;
            for (int i = axis + 1; i < d.length; i++) inner *= d[i];
            float[] src = wt.floats();
            DType storage = format == Precision.FP8 ? DType.F8E4M3 : DType.I8;
            Tensor codes;
            if (format == Precision.FP8) {
                float[] c = new float[src.length];
                for (int i = 0; i < src.length; i++) c[i] = org.tessel.api.Float8E4M3.round(src[i] / scales[perTensor ? 0 : (i / inner) % d[axis]]);
                codes = Tensor.ofFloats(DType.F8E4M3, wt.shape(), c);
            } else {
                long[] c = new long[src.length];
                for (int i = 0; i < src.length; i++) c[i] = PrecisionEmulation.quantize(src[i], scales[(i / inner) % d[axis]]);
                codes = Tensor.ofLongs(DType.I8, wt.shape(), c);
            }
            Value qw = g.addConstant(g.uniqueValueName(w.name() + (format == Precision.FP8 ? "_f8e4m3" : "_int8")), codes);
            Value sc = g.addConstant(g.uniqueValueName(w.name() + "_scale"), perTensor ? Tensor.ofFloats(Shape.scalar(), scales[0]) : Tensor.ofFloats(DType.F32, Shape.of(scales.length), scales));
            Value zp = g.addConstant(g.uniqueValueName(w.name() + "_zero_point"), perTensor ? Tensor.zeros(storage, Shape.scalar()) : Tensor.zeros(storage, Shape.of(scales.length)));
            Node dq = g.insertNodeBefore(m, dequant, g.uniqueNodeName(w.name() + "_dequantize"), List.of(qw, sc, zp),
                    perTensor ? Attributes.empty() : Attributes.empty().with("axis", AttrValue.of(axis)), List.of(TensorType.of(DType.F32, wt.shape())), null, null);
            g.setNodeInput(m, 1, dq.output(0));
            weights++;
        }
        g.removeUnusedConstants();
        g.sortTopologically();
        return new Result(g, pairs, weights);
    }

    /**
     * Clip(+-127 s) -> QuantizeLinear(s, int8 0) -> DequantizeLinear(s, int8 0) of {@code v}, placed after {@code after} (or
     * first); at FP8 QuantizeLinear(s, float8e4m3fn 0) -> DequantizeLinear without a Clip (E4M3 saturates at +-448 as the
     * engine does). Returns the DQ output.
     */
    private static Value pair(Graph g, Value v, float s, String outName, Node after, OpSchema quant, OpSchema dequant, OpSchema clip, Precision format) {
        Value scale = g.addConstant(g.uniqueValueName(outName + "_scale"), Tensor.ofFloats(Shape.scalar(), s));
        Value zp = g.addConstant(g.uniqueValueName(outName + "_zero_point"), Tensor.zeros(format.storage(), Shape.scalar()));
        Node anchor = after == null ? (g.nodes().isEmpty() ? null : g.nodes().getFirst()) : next(g, after);
        if (format == Precision.FP8) {
            TensorType t = v.type();
            Node qn = g.insertNodeBefore(anchor, quant, g.uniqueNodeName(outName + "_quantize"), List.of(v, scale, zp), Attributes.empty(),
                    List.of(TensorType.of(DType.F8E4M3, t.shape())), null, null);
            return g.insertNodeBefore(anchor, dequant, g.uniqueNodeName(outName + "_dequantize"), List.of(qn.output(0), scale, zp), Attributes.empty(),
                    List.of(t), List.of(outName), null).output(0);
        }
        Value lo = g.addConstant(g.uniqueValueName(outName + "_min"), Tensor.ofFloats(Shape.scalar(), -127 * s));
        Value hi = g.addConstant(g.uniqueValueName(outName + "_max"), Tensor.ofFloats(Shape.scalar(), 127 * s));
        TensorType t = v.type();
        Node c = g.insertNodeBefore(anchor, clip, g.uniqueNodeName(outName + "_clip"), List.of(v, lo, hi), Attributes.empty(), List.of(t), null, null);
        Node qn = g.insertNodeBefore(anchor, quant, g.uniqueNodeName(outName + "_quantize"), List.of(c.output(0), scale, zp), Attributes.empty(),
                List.of(TensorType.of(DType.I8, t.shape())), null, null);
        Node dq = g.insertNodeBefore(anchor, dequant, g.uniqueNodeName(outName + "_dequantize"), List.of(qn.output(0), scale, zp), Attributes.empty(),
                List.of(t), List.of(outName), null);
        return dq.output(0);
    }

    private static Node next(Graph g, Node n) {
        int i = g.indexOf(n);
        return i + 1 < g.nodes().size() ? g.nodes().get(i + 1) : null;
    }

    private static void replaceIn(Graph g, Node reader, Value from, Value to) {
        for (int i = 0; i < reader.numInputs(); i++) if (reader.input(i) == from) g.setNodeInput(reader, i, to);
    }

    private static Node node(Graph g, String name) {
        for (Node n : g.nodes()) if (n.name().equals(name)) return n;
        throw new IllegalArgumentException("the model has no node '" + name + "'");
    }

    /**
     * The name in the graph before the plan of the tensor a planned value holds: a reformat's input
     * (a layout change keeps the values), a fused node's body output (named as the member that made it).
     */
    private static String modelName(Value v) {
        while (v.producer() != null) {
            Node p = v.producer();
            if (p.opName().equals(TesselOps.REFORMAT)) v = p.input(0);
            else if (p.body() != null) v = p.body().outputs().get(p.outputs().indexOf(v));
            else break;
        }
        return v.name();
    }
}

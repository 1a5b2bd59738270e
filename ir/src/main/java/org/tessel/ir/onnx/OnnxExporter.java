package org.tessel.ir.onnx;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.tessel.api.AttrValue;
import org.tessel.api.Layout;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.OperatorSetIdProto;
import org.tessel.ir.onnx.proto.Onnx.StringStringEntryProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.TypeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;

/**
 * Writes a graph as an ONNX model (IR version 10, opset 21) that ordinary ONNX tools open:
 * constants become initializers, every intermediate value gets a value_info entry with its static
 * type, and ops of other domains bring an opset_import entry for their domain (version 1).
 * Physical layouts, which ONNX has no field for, travel as {@code tessel.layout/<value>} metadata
 * so that {@link OnnxImporter} restores them; other tools ignore it.
 *
 * <p>Importing the written file gives back a structurally equal graph: same nodes, attributes,
 * wiring, value names, types and constant data. Fused nodes (with a body) are refused; the portable
 * form ({@link #toPortableModel}) inlines them, for optimized graphs that other runtimes should load.
 */
public final class OnnxExporter {
    private OnnxExporter() {}

    public static final int OPSET = 21;
    public static final int IR_VERSION = 10;

    public static void export(Graph g, Path file) throws IOException { export(g, file, OPSET); }

    /**
     * Writes with another default-domain opset. Tessel's ops mean what opset 21 says; pass a later
     * opset when the graph uses ops or element types that only later opsets have (Swish, 8-bit
     * BitShift, f16 Celu...), so that ONNX tools accept the file.
     */
    public static void export(Graph g, Path file, int opset) throws IOException {
        org.tessel.ir.io.AtomicFiles.writeBytes(file, toModel(g, opset).toByteArray());
    }

    /**
     * Writes a model with every initializer of at least {@code threshold} bytes in an external data
     * file beside it, named after the model ({@code model.onnx} -> {@code model.onnx.data}), as
     * {@code onnx.save(..., save_as_external_data=True)} does; returns the data file. The data file
     * is written first, so a model file never points at data that is not there yet.
     */
    public static Path writeWithExternalData(ModelProto model, Path file, long threshold) throws IOException {
        String location = file.getFileName() + ".data";
        ExternalData.Split split = ExternalData.externalize(model, location, threshold);
        Path data = file.resolveSibling(location);
        org.tessel.ir.io.AtomicFiles.writeBytes(data, split.data());
        org.tessel.ir.io.AtomicFiles.writeBytes(file, split.model().toByteArray());
        return data;
    }

    public static byte[] toBytes(Graph g) { return toModel(g).toByteArray(); }

    public static ModelProto toModel(Graph g) { return toModel(g, OPSET); }

    public static ModelProto toModel(Graph g, int opset) { return build(g, opset, false); }

    /**
     * The graph as ONNX that any ONNX runtime loads, for an optimized graph: each fused node is
     * written as its body's nodes (inlined, with the body's own value and node names where they are
     * free), a {@code tessel.Reformat} as an {@code Identity} (values are unchanged by a layout
     * change), a {@code tessel.RotaryEmbedding} as the Split/Neg/Concat/Mul/Add it was recognised from, and no layout metadata, since standard ONNX has no physical layouts. Importing it
     * gives the optimized graph unfused, computing the same values.
     */
    public static ModelProto toPortableModel(Graph g) { return build(g, OPSET, true); }

    private static ModelProto build(Graph g, int opset, boolean portable) {
        if (opset < OPSET) throw new IllegalArgumentException("opset " + opset + " is older than the opset-" + OPSET + " forms Tessel's ops use");
        GraphProto.Builder gb = GraphProto.newBuilder().setName(g.name());
        Set<String> outputs = new HashSet<>();
        for (Value v : g.outputs()) outputs.add(v.name());
        Map<String, Integer> domains = new TreeMap<>();
        for (Value v : g.inputs()) gb.addInput(valueInfo(v));
        // ONNX tools expect graph outputs to come from nodes: a constant output is written as an
        // Identity (first, so the order stays topological) of an initializer under another name,
        // which the importer folds back into the same constant
        Set<String> taken = new HashSet<>();
        for (Value v : allValues(g)) taken.add(v.name());
        Set<String> nodeNames = new HashSet<>();
        for (Node n : g.nodes()) nodeNames.add(n.name());
        for (Value c : g.constants()) {
            if (!outputs.contains(c.name())) {
                gb.addInitializer(OnnxTensors.toProto(c.constantValue(), c.name()));
                continue;
            }
            String init = c.name() + "__constant";
            while (!taken.add(init)) init = init + "_";
            gb.addInitializer(OnnxTensors.toProto(c.constantValue(), init));
            gb.addNode(NodeProto.newBuilder().setName(init).setOpType("Identity").addInput(init).addOutput(c.name()));
        }
        Map<Value, String> names = new java.util.IdentityHashMap<>();
        for (Value v : allValues(g)) names.put(v, v.name());
        for (Node n : g.nodes()) {
            if (n.body() != null && !portable)
                throw new IrException(n.describe() + ": fused nodes cannot be exported to ONNX as they are; export the graph before fusion, or portably (fused bodies inlined)");
            if (portable && n.body() != null) {
                inline(n, names, gb, domains, taken, nodeNames);
                continue;
            }
            emit(n, n.name(), names, gb, domains, portable, taken, nodeNames);
            for (Value o : n.outputs()) if (!outputs.contains(o.name())) gb.addValueInfo(valueInfo(o, o.name()));
        }
        for (Value v : g.outputs()) gb.addOutput(valueInfo(v));
        ModelProto.Builder mb = ModelProto.newBuilder().setIrVersion(IR_VERSION).setProducerName("tessel").setProducerVersion("0.1")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset));
        domains.forEach((d, v) -> mb.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(d).setVersion(v)));
        if (!portable)
            for (Value v : allValues(g))
                if (v.type().layout() != Layout.ANY)
                    mb.addMetadataProps(StringStringEntryProto.newBuilder().setKey(OnnxImporter.LAYOUT_KEY + v.name()).setValue(v.type().layout().text()));
        return mb.setGraph(gb).build();
    }

    /**
     * Writes one (unfused) node, its values named by {@code names}; in portable form a reformat is an Identity and a
     * tessel.RotaryEmbedding its definition in ONNX ops ({@link #expandRotaryEmbedding}).
     */
    private static void emit(Node n, String nodeName, Map<Value, String> names, GraphProto.Builder gb, Map<String, Integer> domains, boolean portable,
                             Set<String> taken, Set<String> nodeNames) {
        if (portable && n.opName().equals(org.tessel.ir.ops.RotaryEmbeddingOps.HALF_ROTATION)) {
            expandRotaryEmbedding(n, nodeName, names, gb, taken, nodeNames);
            return;
        }
        boolean reformat = portable && n.opName().equals(org.tessel.ir.ops.TesselOps.REFORMAT);
        NodeProto.Builder nb = NodeProto.newBuilder().setName(nodeName).setOpType(reformat ? "Identity" : n.op().name());
        if (!reformat && !n.op().domain().isEmpty()) {
            nb.setDomain(n.op().domain());
            domains.put(n.op().domain(), 1);
        }
        int last = n.numInputs();
        while (last > 0 && n.input(last - 1) == null) last--;
        for (int i = 0; i < last; i++) nb.addInput(n.input(i) == null ? "" : names.get(n.input(i)));
        for (Value o : n.outputs()) nb.addOutput(names.get(o));
        if (!reformat) for (var e : n.attrs().asMap().entrySet()) nb.addAttribute(attribute(e.getKey(), e.getValue()));
        gb.addNode(nb);
    }

    /**
     * Writes a fused node's body in its place: body inputs are the node's input values, body outputs
     * the node's outputs, body constants initializers, and the values and nodes inside keep their
     * names where the outer graph does not use them already.
     */
    private static void inline(Node fused, Map<Value, String> names, GraphProto.Builder gb, Map<String, Integer> domains, Set<String> taken, Set<String> nodeNames) {
        Graph body = fused.body();
        for (int i = 0; i < body.inputs().size(); i++) names.put(body.inputs().get(i), names.get(fused.input(i)));
        for (Value c : body.constants()) {
            String name = fresh(c.name(), taken);
            names.put(c, name);
            gb.addInitializer(OnnxTensors.toProto(c.constantValue(), name));
        }
        Map<Value, String> outerOut = new java.util.IdentityHashMap<>();
        for (int k = 0; k < body.outputs().size(); k++) {
            Value bo = body.outputs().get(k);
            if (bo.producer() != null && !outerOut.containsKey(bo)) {
                outerOut.put(bo, names.get(fused.output(k)));
                names.put(bo, names.get(fused.output(k)));
            }
        }
        for (Node b : body.nodes()) {
            for (Value o : b.outputs()) if (!names.containsKey(o)) names.put(o, fresh(o.name(), taken));
            String nodeName = fresh(b.name(), nodeNames);
            if (b.body() != null) inline(b, names, gb, domains, taken, nodeNames);
            else emit(b, nodeName, names, gb, domains, true, taken, nodeNames);
            for (Value o : b.outputs()) if (!outerOut.containsKey(o)) gb.addValueInfo(valueInfo(o, names.get(o)));
        }
        // an output that is a body input, a constant, or a second output of the same value: an Identity
        for (int k = 0; k < body.outputs().size(); k++) {
            Value bo = body.outputs().get(k);
            String want = names.get(fused.output(k));
            if (names.get(bo).equals(want)) continue;
            gb.addNode(NodeProto.newBuilder().setName(fresh(want + "_identity", nodeNames)).setOpType("Identity").addInput(names.get(bo)).addOutput(want));
        }
    }

    /**
     * tessel.RotaryEmbedding as the ONNX ops it stands for, x * cos + Concat(-x2, x1) * sin with x1, x2 the halves of
     * x's last axis (opset 21 has no RotaryEmbedding, and ONNX's opset-23 one takes half-width caches).
     */
    private static void expandRotaryEmbedding(Node n, String nodeName, Map<Value, String> names, GraphProto.Builder gb, Set<String> taken, Set<String> nodeNames) {
        String x = names.get(n.input(0)), cos = names.get(n.input(1)), sin = names.get(n.input(2)), y = names.get(n.output());
        long half = n.input(0).type().shape().dim(-1) / 2;
        String sizes = fresh(nodeName + ".split_sizes", taken);
        gb.addInitializer(OnnxTensors.toProto(org.tessel.api.Tensor.ofLongs(org.tessel.api.DType.I64, org.tessel.api.Shape.of(2), half, half), sizes));
        String x1 = fresh(nodeName + ".x1", taken), x2 = fresh(nodeName + ".x2", taken), neg = fresh(nodeName + ".neg_x2", taken);
        String rot = fresh(nodeName + ".rotate_half", taken), xc = fresh(nodeName + ".x_cos", taken), rs = fresh(nodeName + ".rotated_sin", taken);
        AttributeProto last = attribute("axis", AttrValue.of(-1L));
        gb.addNode(NodeProto.newBuilder().setName(fresh(nodeName + ".split", nodeNames)).setOpType("Split").addInput(x).addInput(sizes).addOutput(x1).addOutput(x2).addAttribute(last));
        gb.addNode(NodeProto.newBuilder().setName(fresh(nodeName + ".neg", nodeNames)).setOpType("Neg").addInput(x2).addOutput(neg));
        gb.addNode(NodeProto.newBuilder().setName(fresh(nodeName + ".concat", nodeNames)).setOpType("Concat").addInput(neg).addInput(x1).addOutput(rot).addAttribute(last));
        gb.addNode(NodeProto.newBuilder().setName(fresh(nodeName + ".mul_cos", nodeNames)).setOpType("Mul").addInput(x).addInput(cos).addOutput(xc));
        gb.addNode(NodeProto.newBuilder().setName(fresh(nodeName + ".mul_sin", nodeNames)).setOpType("Mul").addInput(rot).addInput(sin).addOutput(rs));
        gb.addNode(NodeProto.newBuilder().setName(nodeName).setOpType("Add").addInput(xc).addInput(rs).addOutput(y));
    }

    /** {@code base}, or base_1, base_2... : the first not in {@code taken}, which it joins. */
    private static String fresh(String base, Set<String> taken) {
        String s = base;
        for (int i = 1; !taken.add(s); i++) s = base + "_" + i;
        return s;
    }

    private static Iterable<Value> allValues(Graph g) {
        java.util.List<Value> vs = new java.util.ArrayList<>(g.inputs());
        vs.addAll(g.constants());
        for (Node n : g.nodes()) vs.addAll(n.outputs());
        return vs;
    }

    static ValueInfoProto valueInfo(Value v) { return valueInfo(v, v.name()); }

    static ValueInfoProto valueInfo(Value v, String name) {
        return ValueInfoProto.newBuilder().setName(name).setType(type(v.type())).build();
    }

    static TypeProto type(TensorType t) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (int d : t.shape().dims()) s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(t.dtype().onnxCode()).setShape(s)).build();
    }

    static AttributeProto attribute(String name, AttrValue v) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(name);
        switch (v) {
            case AttrValue.Int i -> b.setType(AttributeProto.AttributeType.INT).setI(i.value());
            case AttrValue.Float f -> b.setType(AttributeProto.AttributeType.FLOAT).setF(f.value());
            case AttrValue.Str s -> b.setType(AttributeProto.AttributeType.STRING).setS(ByteString.copyFrom(s.value(), StandardCharsets.UTF_8));
            case AttrValue.Ints is -> {
                b.setType(AttributeProto.AttributeType.INTS);
                for (long x : is.values()) b.addInts(x);
            }
            case AttrValue.Floats fs -> {
                b.setType(AttributeProto.AttributeType.FLOATS);
                for (float x : fs.values()) b.addFloats(x);
            }
            case AttrValue.Strs ss -> {
                b.setType(AttributeProto.AttributeType.STRINGS);
                for (String x : ss.values()) b.addStrings(ByteString.copyFrom(x, StandardCharsets.UTF_8));
            }
            case AttrValue.TensorValue t -> b.setType(AttributeProto.AttributeType.TENSOR).setT(OnnxTensors.toProto(t.value(), ""));
        }
        return b.build();
    }
}

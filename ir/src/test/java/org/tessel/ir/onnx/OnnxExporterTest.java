package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;

class OnnxExporterTest {
    /** Structural equality: inputs, constants (data included), nodes (op, name, attributes, wiring, types), outputs. */
    static void assertSameGraph(Graph want, Graph got) {
        assertEquals(want.name(), got.name());
        assertEquals(describe(want.inputs()), describe(got.inputs()), "inputs");
        assertEquals(describe(want.constants()), describe(got.constants()), "constants");
        for (Value c : want.constants())
            assertTrue(c.constantValue().dataEquals(got.value(c.name()).constantValue()), "data of constant %" + c.name());
        assertEquals(want.nodes().size(), got.nodes().size(), "node count");
        for (int i = 0; i < want.nodes().size(); i++) {
            Node a = want.nodes().get(i), b = got.nodes().get(i);
            assertEquals(a.opName(), b.opName(), "op of node " + i);
            assertEquals(a.name(), b.name(), "name of node " + i);
            assertEquals(a.attrs(), b.attrs(), "attributes of " + a.describe());
            assertEquals(names(a.inputs()), names(b.inputs()), "inputs of " + a.describe());
            assertEquals(describe(a.outputs()), describe(b.outputs()), "outputs of " + a.describe());
        }
        assertEquals(names(want.outputs()), names(got.outputs()), "outputs");
    }

    private static List<String> describe(List<Value> vs) { return vs.stream().map(Value::toString).toList(); }

    private static List<String> names(List<Value> vs) { return vs.stream().map(v -> v == null ? "-" : v.name()).toList(); }

    private static Graph roundTrip(Graph g, OnnxImporter.Options o) {
        return OnnxImporter.importModel(OnnxExporter.toBytes(g), "round.onnx", o.withRegistry(OnnxModels.registry()));
    }

    private static Graph sample() {
        NetworkBuilder b = new NetworkBuilder("sample", OnnxModels.registry(), 7);
        Value x = b.input("x", DType.F32, 2, 3, 4);
        Value h = b.input("half input", DType.F16, 2, 3, 4);
        Value w = b.constant("w", b.randomUniform(Shape.of(3, 4), -1, 1));
        Value y = b.add(x, w);
        Value c = b.op("Clip", Attributes.empty(), y, null, b.constant("hi", Tensor.scalar(DType.F32, 0.5)));
        Value t = b.transpose(c, 0, 2, 1);
        Value tagged = b.op("test.Tagged", Attributes.builder().put("i", 3L).put("f", 0.25f).put("s", "text").put("is", 1L, -2L)
                .put("fs", 1.5f, 2.5f).put("ss", new AttrValue.Strs(List.of("a", "b"))).put("t", Tensor.ofLongs(DType.I64, Shape.of(2), 4, 5)).build(), t);
        Value r = b.reshape(tagged, 2, -1);
        Value hs = b.op("Cast", Attributes.builder().put("to", (long) DType.F32.onnxCode()).build(), h);
        return b.output(b.softmax(r, -1), hs).build();
    }

    @Test void exportThenImportGivesTheSameGraph() {
        Graph g = sample();
        assertSameGraph(g, roundTrip(g, OnnxImporter.Options.defaults().withFolding(false)));
        assertSameGraph(g, roundTrip(g, OnnxImporter.Options.defaults()));
    }

    @Test void writesOpset21WithInitializersValueInfoAndDomains() throws Exception {
        ModelProto m = OnnxExporter.toModel(sample());
        assertEquals(10, m.getIrVersion());
        assertEquals(2, m.getOpsetImportCount());
        assertEquals("", m.getOpsetImport(0).getDomain());
        assertEquals(21, m.getOpsetImport(0).getVersion());
        assertEquals("test", m.getOpsetImport(1).getDomain());
        assertEquals(List.of("x", "half input"), m.getGraph().getInputList().stream().map(v -> v.getName()).toList());
        assertEquals(List.of("w", "hi", "shape"), m.getGraph().getInitializerList().stream().map(t -> t.getName()).toList());
        // every node output but the two graph outputs has a value_info entry
        assertEquals(m.getGraph().getNodeList().stream().mapToInt(n -> n.getOutputCount()).sum() - 2, m.getGraph().getValueInfoCount());
        var clip = m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Clip")).findFirst().orElseThrow();
        assertEquals(List.of("add", "", "hi"), clip.getInputList(), "an absent optional input in the middle is written as \"\"");
        var tagged = m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Tagged")).findFirst().orElseThrow();
        assertEquals("test", tagged.getDomain());
    }

    @Test void constantOutputsAreWrittenAsIdentityOfAnInitializer() {
        NetworkBuilder b = new NetworkBuilder("k", OnnxModels.registry(), 1);
        Value x = b.input("x", DType.F32, 2);
        Value k = b.constant("k", Tensor.ofFloats(Shape.of(2), 3, 4));
        Graph g = b.output(b.add(x, k), k).build();
        ModelProto m = OnnxExporter.toModel(g);
        assertEquals(List.of("k__constant"), m.getGraph().getInitializerList().stream().map(t -> t.getName()).toList());
        var first = m.getGraph().getNode(0);
        assertEquals("Identity", first.getOpType());
        assertEquals(List.of("k__constant"), first.getInputList());
        assertEquals(List.of("k"), first.getOutputList());
        assertSameGraph(g, roundTrip(g, OnnxImporter.Options.defaults()));
    }

    @Test void thePortableFormWritesARotaryEmbeddingAsTheOnnxOpsItStandsFor() {
        NetworkBuilder b = new NetworkBuilder("rope");
        Value x = b.input("x", DType.F32, 2, 3, 4, 8), cos = b.input("cos", DType.F32, 2, 1, 4, 8), sin = b.input("sin", DType.F32, 2, 1, 4, 8);
        Graph g = b.output(b.name("q.rope").op("tessel.RotaryEmbedding", Attributes.empty(), x, cos, sin)).build();
        ModelProto m = OnnxExporter.toPortableModel(g);
        assertEquals(List.of("Split", "Neg", "Concat", "Mul", "Mul", "Add"), m.getGraph().getNodeList().stream().map(n -> n.getOpType()).toList());
        assertTrue(m.getOpsetImportList().stream().allMatch(o -> o.getDomain().isEmpty()), "only the default domain: " + m.getOpsetImportList());
        Graph back = OnnxImporter.importModel(m.toByteArray(), "rope.onnx");
        NetworkBuilder r = new NetworkBuilder("in", org.tessel.api.OpRegistry.global(), 3);
        List<Tensor> in = List.of(r.randomUniform(Shape.of(2, 3, 4, 8), -2, 2), r.randomUniform(Shape.of(2, 1, 4, 8), -1, 1), r.randomUniform(Shape.of(2, 1, 4, 8), -1, 1));
        Tensor want = new org.tessel.ir.ReferenceInterpreter().run(g, in).getFirst(), got = new org.tessel.ir.ReferenceInterpreter().run(back, in).getFirst();
        for (int i = 0; i < want.size(); i++) assertEquals(want.getFloat(i), got.getFloat(i), 1e-6, "element " + i);
        assertEquals("q.rope", back.outputs().getFirst().name());
    }

    @Test void aLaterOpsetCanBeDeclared() {
        assertEquals(24, OnnxExporter.toModel(sample(), 24).getOpsetImport(0).getVersion());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OnnxExporter.toModel(sample(), 13));
        assertEquals("opset 13 is older than the opset-21 forms Tessel's ops use", e.getMessage());
    }

    @Test void layoutsTravelAsMetadata(@TempDir Path tmp) throws Exception {
        Graph g = sample();
        Value add = g.value("add");
        add.setType(add.type().withLayout(Layout.NHWC));
        Path f = tmp.resolve("g.onnx");
        OnnxExporter.export(g, f);
        Graph back = OnnxImporter.importModel(f, OnnxImporter.Options.defaults().withRegistry(OnnxModels.registry()));
        assertEquals(Layout.NHWC, back.value("add").type().layout());
        assertEquals(Layout.ANY, back.value("x").type().layout());
    }

    @Test void fusedNodesAreRefusedByName() {
        Graph g = sample();
        Node relu = g.insertNode(g.nodes().size(), OnnxModels.registry().get("Relu"), "fused_relu", List.of(g.value("x")), Attributes.empty(),
                List.of(g.value("x").type()), null, sample());
        assertNull(relu.input(1));
        IrException e = assertThrows(IrException.class, () -> OnnxExporter.toModel(g));
        assertEquals("node 'fused_relu' (Relu): fused nodes cannot be exported to ONNX as they are; export the graph before fusion, or portably (fused bodies inlined)", e.getMessage());
    }

    @Test void everyImportableNodeCaseRoundTrips() throws Exception {
        Path dir = SharedData.require("onnx-node");
        int n = 0;
        try (var cases = Files.list(dir)) {
            for (Path c : cases.sorted().toList()) {
                if (!Files.isRegularFile(c.resolve("model.onnx"))) continue;
                Graph g;
                try {
                    g = OnnxImporter.importModel(c.resolve("model.onnx"));
                } catch (OnnxImportException e) {
                    continue;   // unsupported or needing bound inputs: the conformance suite covers it
                }
                try {
                    assertSameGraph(g, OnnxImporter.importModel(OnnxExporter.toBytes(g), "round.onnx"));
                } catch (AssertionError | RuntimeException e) {
                    throw new AssertionError(c.getFileName() + ": " + e.getMessage(), e);
                }
                n++;
            }
        }
        assertTrue(n > 500, "only " + n + " node cases imported");
    }

    @Test void importedSharedModelRoundTrips(@TempDir Path tmp) throws Exception {
        Path model = SharedData.require("models").resolve("light_squeezenet/model.onnx");
        Assumptions.assumeTrue(Files.isRegularFile(model), "no " + model + "; skipping");
        Graph g = OnnxImporter.importModel(model);
        Path f = tmp.resolve("sq.onnx");
        OnnxExporter.export(g, f);
        assertSameGraph(g, OnnxImporter.importModel(f));
    }
}

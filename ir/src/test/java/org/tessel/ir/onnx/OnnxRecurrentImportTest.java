package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.ir.onnx.OnnxModels.FLOAT;
import static org.tessel.ir.onnx.OnnxModels.graph;
import static org.tessel.ir.onnx.OnnxModels.intAttr;
import static org.tessel.ir.onnx.OnnxModels.model;
import static org.tessel.ir.onnx.OnnxModels.node;
import static org.tessel.ir.onnx.OnnxModels.stringAttr;
import static org.tessel.ir.onnx.OnnxModels.tensor;

import com.google.protobuf.ByteString;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;

/** LSTM/GRU/RNN through the importer and exporter: skipped inputs and outputs, opset 1's form, errors. */
class OnnxRecurrentImportTest {
    static Tensor random(SplittableRandom r, int... dims) {
        Tensor t = Tensor.zeros(org.tessel.api.DType.F32, Shape.of(dims));
        for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble(-1, 1));
        return t;
    }

    /** op with X fed, W/R/initial_h as initializers, B and sequence_lens skipped ("" inputs), the given outputs. */
    static ModelProto recurrent(long opset, String op, int gates, List<String> outs, List<String> graphOuts, AttributeProto... attrs) {
        SplittableRandom r = new SplittableRandom(5);
        int seq = 3, batch = 2, in = 4, h = 3;
        GraphProto.Builder g = graph("rnn").addInput(tensor("x", FLOAT, seq, batch, in))
                .addInitializer(OnnxTensors.toProto(random(r, 1, gates * h, in), "w"))
                .addInitializer(OnnxTensors.toProto(random(r, 1, gates * h, h), "r"))
                .addInitializer(OnnxTensors.toProto(random(r, 1, batch, h), "h0"))
                .addNode(node(op, "enc", List.of("x", "w", "r", "", "", "h0"), outs, attrs));
        for (String o : graphOuts) g.addOutput(org.tessel.ir.onnx.proto.Onnx.ValueInfoProto.newBuilder().setName(o));
        return model(opset, g);
    }

    static List<Tensor> run(Graph g, Tensor x) { return new ReferenceInterpreter().run(g, List.of(x)); }

    @Test void skippedInputsAndOutputsAndOpsetOnesOutputSequence() {
        Tensor x = random(new SplittableRandom(9), 3, 2, 4);
        Graph full = OnnxImporter.importModel(recurrent(14, "LSTM", 4, List.of("y", "y_h"), List.of("y", "y_h")).toByteArray(), "m.onnx");
        // only Y_h wanted: Y's slot is "" (opset 14) or output_sequence = 0 says so (opset 1)
        Graph last = OnnxImporter.importModel(recurrent(14, "LSTM", 4, List.of("", "y_h"), List.of("y_h")).toByteArray(), "m.onnx");
        Graph v1 = OnnxImporter.importModel(recurrent(1, "LSTM", 4, List.of("", "y_h"), List.of("y_h"), intAttr("output_sequence", 0)).toByteArray(), "m.onnx");
        Tensor want = run(full, x).get(1);
        assertEquals(Shape.of(1, 2, 3), want.shape());
        assertTrue(want.dataEquals(run(last, x).getFirst()));
        assertTrue(want.dataEquals(run(v1, x).getFirst()));
        Node lstm = v1.nodes().stream().filter(n -> n.opName().equals("LSTM")).findFirst().orElseThrow();
        assertTrue(!lstm.attrs().has("output_sequence"), lstm.attrs().toString());
    }

    @Test void exportKeepsSkippedInputsAndAttributesAndImportsBackEqual() {
        Tensor x = random(new SplittableRandom(3), 3, 2, 4);
        for (String op : List.of("RNN", "GRU", "LSTM")) {
            int gates = switch (op) { case "RNN" -> 1; case "GRU" -> 3; default -> 4; };
            Graph g = OnnxImporter.importModel(recurrent(21, op, gates, List.of("y", "y_h"), List.of("y", "y_h"),
                    stringAttr("direction", "reverse"), intAttr(op.equals("GRU") ? "linear_before_reset" : "layout", op.equals("GRU") ? 1 : 0)).toByteArray(), "m.onnx");
            ModelProto exported;
            try {
                exported = ModelProto.parseFrom(OnnxExporter.toBytes(g));
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new AssertionError(e);
            }
            var n = exported.getGraph().getNodeList().stream().filter(p -> p.getOpType().equals(op)).findFirst().orElseThrow();
            assertEquals("", n.getInput(3), op + ": B skipped");
            assertEquals("", n.getInput(4), op + ": sequence_lens skipped");
            Graph back = OnnxImporter.importModel(exported.toByteArray(), "back.onnx");
            List<Tensor> a = run(g, x), b = run(back, x);
            for (int i = 0; i < 2; i++) assertTrue(a.get(i).dataEquals(b.get(i)), op + " output " + i);
        }
    }

    @Test void anActivationOnnxDoesNotDefineIsRefusedNamingNodeAndAttribute() {
        AttributeProto acts = AttributeProto.newBuilder().setName("activations").setType(AttributeProto.AttributeType.STRINGS)
                .addStrings(ByteString.copyFromUtf8("Gelu")).build();
        OnnxImportException e = assertThrows(OnnxImportException.class,
                () -> OnnxImporter.importModel(recurrent(14, "RNN", 1, List.of("y"), List.of("y"), acts).toByteArray(), "m.onnx"));
        assertTrue(e.getMessage().contains("'enc'") && e.getMessage().contains("attribute 'activations'") && e.getMessage().contains("'Gelu'"), e.getMessage());
        OnnxImportException w = assertThrows(OnnxImportException.class,
                () -> OnnxImporter.importModel(recurrent(14, "GRU", 4, List.of("y"), List.of("y")).toByteArray(), "m.onnx"));
        assertTrue(w.getMessage().contains("'enc'") && w.getMessage().contains("input W must have shape [num_directions, 3*hidden_size, input_size] = [1,9,4], got [1,12,4]"), w.getMessage());
    }
}

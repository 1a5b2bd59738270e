package org.tessel.ir.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.onnx.OnnxImporter;

/** The tiny zoo models survive ONNX export and re-import with the same outputs. */
class ZooOnnxRoundTripTest {
    @ParameterizedTest
    @ValueSource(strings = {"resnet50-tiny", "mobilenetv2-tiny", "googlenet-tiny", "bert-tiny", "vit-tiny"})
    void exportImportKeepsTheOutputs(String model) {
        Graph g = Zoo.build(model, ZooOptions.defaults().withBatch(2));
        Graph back = OnnxImporter.importModel(OnnxExporter.toBytes(g), model + ".onnx");
        Map<String, Tensor> in = TinyModelRunTest.inputs(g, 21);
        Map<String, Tensor> want = new ReferenceInterpreter().run(g, in);
        Map<String, Tensor> got = new ReferenceInterpreter().run(back, in);
        assertEquals(want.keySet(), got.keySet(), model + ": output names");
        for (String k : want.keySet()) {
            Tensor w = want.get(k), h = got.get(k);
            assertEquals(w.type(), h.type(), model + " " + k);
            for (int i = 0; i < w.size(); i++)
                assertEquals(w.getDouble(i), h.getDouble(i), 1e-5 * Math.max(1, Math.abs(w.getDouble(i))), model + " " + k + "[" + i + "]");
        }
    }
}

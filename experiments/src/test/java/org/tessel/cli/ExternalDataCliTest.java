package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.onnx.OnnxTensors;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;

/**
 * `tessel convert|optimize -o FILE.onnx --external-data [BYTES]`: the data file is real ONNX external
 * data (ONNX Runtime, given the model's path, loads it and computes what Tessel computes), Tessel reads
 * it back, and broken references are one clear line.
 */
class ExternalDataCliTest {
    @TempDir Path dir;

    /** ONNX Runtime opening the model by path, so that it resolves the external data itself. */
    private static Map<String, Tensor> ortByPath(Path model, Map<String, Tensor> in) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        try (OrtSession s = env.createSession(model.toString(), new OrtSession.SessionOptions())) {
            for (var e : in.entrySet()) {
                Tensor t = e.getValue();
                feeds.put(e.getKey(), t.dtype() == org.tessel.api.DType.I64
                        ? OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(t.longs()), t.shape().longDims())
                        : OnnxTensor.createTensor(env, java.nio.FloatBuffer.wrap(t.floats()), t.shape().longDims()));
            }
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (OrtSession.Result r = s.run(feeds)) {
                for (var e : r) {
                    OnnxTensor o = (OnnxTensor) e.getValue();
                    long[] shape = o.getInfo().getShape();
                    int[] dims = new int[shape.length];
                    for (int i = 0; i < dims.length; i++) dims[i] = (int) shape[i];
                    float[] f = new float[o.getFloatBuffer().remaining()];
                    o.getFloatBuffer().get(f);
                    out.put(e.getKey(), Tensor.ofFloats(org.tessel.api.Shape.of(dims), f));
                }
            }
            return out;
        } finally {
            for (OnnxTensor t : feeds.values()) t.close();
        }
    }

    @Test void convertWritesExternalDataThatOnnxRuntimeLoadsAndComputesTheSameOutputs() throws Exception {
        Path onnx = dir.resolve("out/bert.onnx");
        CliRun r = CliRun.of("convert", "zoo:bert-tiny", "-o", onnx.toString(), "--external-data");
        assertEquals(0, r.code(), r.err());
        Path data = dir.resolve("out/bert.onnx.data");
        assertTrue(r.out().contains("external data: " + data), r.out());
        assertTrue(Files.size(data) > 1_000_000, "the weights are in the data file: " + Files.size(data));
        assertTrue(Files.size(onnx) < 100_000, "the model file holds the graph: " + Files.size(onnx));
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(onnx));
        assertTrue(m.getGraph().getInitializerList().stream().anyMatch(t -> t.getDataLocation() == TensorProto.DataLocation.EXTERNAL));

        Graph source = org.tessel.ir.zoo.Zoo.build("bert-tiny", org.tessel.ir.zoo.ZooOptions.defaults());
        List<Tensor> in = OptimizeCommand.randomInputs(source);
        List<Tensor> want = new ReferenceInterpreter().run(source, in);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (int i = 0; i < in.size(); i++) feeds.put(source.inputs().get(i).name(), in.get(i));
        Map<String, Tensor> ort = ortByPath(onnx, feeds);
        Graph back = OnnxImporter.importModel(onnx);
        List<Tensor> tessel = new ReferenceInterpreter().run(back, in);
        for (int i = 0; i < want.size(); i++) {
            String name = source.outputs().get(i).name();
            assertNull(Compare.allClose(want.get(i), ort.get(name), 1e-3, 1e-4), name + " (ONNX Runtime, external data)");
            assertNull(Compare.allClose(want.get(i), tessel.get(i), 0, 0), name + " (Tessel, external data)");
        }
        // every verb that reads a model reads it: compare runs the reference, the CPU engine and ONNX Runtime on it
        CliRun c = CliRun.of("compare", onnx.toString());
        assertEquals(0, c.code(), c.out() + c.err());
    }

    @Test void optimizeWritesAnOptimizedRealModelWithExternalDataAtAThreshold() throws Exception {
        Path m = Shared.model("light_squeezenet");
        Path out = dir.resolve("sq.onnx");
        CliRun r = CliRun.of("optimize", m.resolve("model.onnx").toString(), "-o", out.toString(), "--external-data", "4096");
        assertEquals(0, r.code(), r.err());
        ModelProto mp = ModelProto.parseFrom(Files.readAllBytes(out));
        for (TensorProto t : mp.getGraph().getInitializerList())
            if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) assertTrue(t.getRawData().size() < 4096, t.getName());
        Tensor input = OnnxTensors.readTensor(m.resolve("test_data_set_0/input_0.pb"));
        Tensor expected = OnnxTensors.readTensor(m.resolve("test_data_set_0/output_0.pb"));
        Graph g = OnnxImporter.importModel(out);
        Map<String, Tensor> ort = ortByPath(out, Map.of(g.inputs().getFirst().name(), input));
        assertNull(Compare.allClose(expected, ort.get(g.outputs().getFirst().name()), 1e-3, 1e-4), "ONNX Runtime");
        assertNull(Compare.allClose(expected, new ReferenceInterpreter().run(g, List.of(input)).getFirst(), 1e-3, 1e-4), "Tessel");
    }

    @Test void aMissingOrTruncatedDataFileIsOneLineNamingTheTensorAndTheFile() throws Exception {
        Path onnx = dir.resolve("m.onnx");
        assertEquals(0, CliRun.of("convert", "zoo:resnet50-tiny", "-o", onnx.toString(), "--external-data").code());
        Path data = dir.resolve("m.onnx.data");
        byte[] all = Files.readAllBytes(data);
        Files.write(data, java.util.Arrays.copyOf(all, all.length / 2));
        CliRun r = CliRun.of("check", onnx.toString());
        assertEquals(2, r.code(), r.out());
        assertTrue(r.err().contains("m.onnx: initializer '") && r.err().contains("external data file 'm.onnx.data'") && r.err().contains("runs past the file's end"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        Files.delete(data);
        r = CliRun.of("build", onnx.toString(), "--cpu", "--save-engine", dir.resolve("e.engine").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("external data file 'm.onnx.data': no such file"), r.err());
    }

    @Test void theFlagIsRefusedWhereTheOutputIsNotOnnx() {
        CliRun r = CliRun.of("convert", "zoo:resnet50-tiny", "-o", dir.resolve("m.tir").toString(), "--external-data");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--external-data applies to ONNX output (-o FILE.onnx); " + dir.resolve("m.tir") + " is not one"), r.err());
    }
}

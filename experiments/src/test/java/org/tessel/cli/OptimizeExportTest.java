package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

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
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.text.IrParser;

/** `tessel optimize MODEL -o out.onnx|.tir`: the optimized graph loads back into Tessel and into ONNX Runtime and computes what the source model computes. */
class OptimizeExportTest {
    @TempDir Path dir;

    private static Map<String, Tensor> ort(byte[] model, Map<String, Tensor> in, List<String> outs) {
        try (OrtRunner r = OrtRunner.open(model, Map.of(), "test model")) {
            return r.run(in, outs);
        }
    }

    @Test void aRealModelExportedOptimizedRunsInOnnxRuntimeWithTheSourcesOutputs() throws Exception {
        Path m = Shared.model("light_resnet50");
        Path out = dir.resolve("opt.onnx");
        CliRun r = CliRun.of("optimize", m.resolve("model.onnx").toString(), "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("wrote " + out), r.out());
        ModelProto mp = ModelProto.parseFrom(Files.readAllBytes(out));
        for (NodeProto n : mp.getGraph().getNodeList()) assertTrue(n.getDomain().isEmpty(), "standard ONNX ops only: " + n.getOpType() + " in " + n.getDomain());
        Graph source = OnnxImporter.importModel(m.resolve("model.onnx"), OnnxImporter.Options.defaults());
        Graph back = OnnxImporter.importModel(out, OnnxImporter.Options.defaults());
        assertTrue(back.nodes().size() > 100, "fused bodies are inlined: " + back.nodes().size() + " nodes");
        Tensor input = OnnxTensors.readTensor(m.resolve("test_data_set_0/input_0.pb"));
        Tensor expected = OnnxTensors.readTensor(m.resolve("test_data_set_0/output_0.pb"));
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put(source.inputs().get(0).name(), input);
        String outName = source.outputs().get(0).name();
        Tensor viaOrt = ort(Files.readAllBytes(out), feeds, List.of(outName)).get(outName);
        assertNull(Compare.allClose(expected, viaOrt, 1e-3, 1e-4), "ONNX Runtime on the exported graph");
        Tensor ortSource = ort(Files.readAllBytes(m.resolve("model.onnx")), feeds, List.of(outName)).get(outName);
        assertNull(Compare.allClose(ortSource, viaOrt, 1e-4, 1e-6), "ONNX Runtime: exported graph vs source model");
        Tensor viaTessel = new ReferenceInterpreter().run(back, List.of(input)).get(0);
        assertNull(Compare.allClose(expected, viaTessel, 1e-3, 1e-4), "Tessel on the exported graph");
    }

    @Test void aZooTransformerExportsToOnnxRuntimeAndTextIrRoundTrips() throws Exception {
        Path onnx = dir.resolve("bert.onnx"), tir = dir.resolve("bert.tir");
        assertEquals(0, CliRun.of("optimize", "zoo:bert-tiny", "-o", onnx.toString()).code());
        assertEquals(0, CliRun.of("optimize", "zoo:bert-tiny", "-o", tir.toString()).code());
        Graph source = org.tessel.ir.zoo.Zoo.build("bert-tiny", org.tessel.ir.zoo.ZooOptions.defaults());
        List<Tensor> in = OptimizeCommand.randomInputs(source);
        List<Tensor> want = new ReferenceInterpreter().run(source, in);
        Graph fromTir = IrParser.parse(Files.readString(tir), tir.toString());
        assertTrue(fromTir.nodes().stream().anyMatch(n -> n.body() != null), "text IR keeps fused nodes");
        List<Tensor> gotTir = new ReferenceInterpreter().run(fromTir, in);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (int i = 0; i < in.size(); i++) feeds.put(source.inputs().get(i).name(), in.get(i));
        List<String> outs = source.outputs().stream().map(org.tessel.ir.Value::name).toList();
        Map<String, Tensor> gotOrt = ort(Files.readAllBytes(onnx), feeds, outs);
        for (int i = 0; i < want.size(); i++) {
            assertNull(Compare.allClose(want.get(i), gotTir.get(i), 1e-4, 1e-5), outs.get(i) + " (.tir)");
            assertNull(Compare.allClose(want.get(i), gotOrt.get(outs.get(i)), 1e-3, 1e-4), outs.get(i) + " (ONNX Runtime)");
        }
    }

    @Test void aBadOutputNameIsRefusedBeforeAnyWork() {
        CliRun r = CliRun.of("optimize", "zoo:resnet50-tiny", "-o", dir.resolve("x.png").toString());
        assertEquals(2, r.code());
        assertEquals("tessel optimize: -o " + dir.resolve("x.png") + ": give a file ending in .onnx or .tir", r.err().strip());
    }
}

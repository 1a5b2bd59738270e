package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiPredicate;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.onnx.OnnxTensors;

/**
 * One ONNX node case (../shared/onnx-node, found through {@code tessel.shared}) imported with some of its inputs bound
 * as constants, as a model holds its weights: the graph, the values of its remaining inputs and the expected outputs
 * (test_data_set_0).
 */
record OnnxNodeCase(String name, Graph graph, Map<String, Tensor> inputs, List<Tensor> expected) {
    /** The case folders whose names {@code names} accepts, sorted; skips the calling test, saying so, when the folder is absent. */
    static List<Path> folders(Predicate<String> names) throws IOException {
        Path root = Path.of(System.getProperty("tessel.shared", "/work/shared")).resolve("onnx-node");
        assumeTrue(Files.isDirectory(root), "no ONNX node cases at " + root + ": skipped");
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> names.test(p.getFileName().toString())).sorted().toList();
        }
    }

    /**
     * The case in {@code dir}, the graph input at position {@code i} named {@code name} bound as a constant where
     * {@code constant} says so.
     */
    static OnnxNodeCase load(Path dir, BiPredicate<Integer, String> constant) throws IOException {
        var m = org.tessel.ir.onnx.proto.Onnx.ModelProto.parseFrom(Files.readAllBytes(dir.resolve("model.onnx")));
        OnnxImporter.Options o = OnnxImporter.Options.defaults();
        Map<String, Tensor> in = new LinkedHashMap<>();
        Path data = dir.resolve("test_data_set_0");
        for (int i = 0; i < m.getGraph().getInputCount(); i++) {
            String name = m.getGraph().getInput(i).getName();
            Tensor t = OnnxTensors.readTensor(data.resolve("input_" + i + ".pb"));
            if (constant.test(i, name)) o = o.withConstantInput(name, t);
            else in.put(name, t);
        }
        Graph g = OnnxImporter.importModel(dir.resolve("model.onnx"), o);
        List<Tensor> expected = new ArrayList<>();
        for (int k = 0; k < g.outputs().size(); k++) expected.add(OnnxTensors.readTensor(data.resolve("output_" + k + ".pb")));
        return new OnnxNodeCase(dir.getFileName().toString(), g, in, expected);
    }
}

package org.tessel.runtime.gpu.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.onnx.OnnxTensors;
import org.tessel.ir.zoo.Zoo;

/** The CNNs the GPU engine must run: zoo models and the real models in ../shared/models (found through {@code tessel.shared}). */
final class CnnModels {
    private CnnModels() {}

    static final List<String> ZOO = List.of("resnet50", "resnet50-tiny", "mobilenetv2", "mobilenetv2-tiny", "googlenet", "googlenet-tiny");
    static final List<String> SHARED = List.of("light_resnet50", "light_inception_v1", "light_squeezenet", "squeezenet1_1_dynamo", "mobilenet_v2_ts", "bert_tiny_dynamo");

    static Path sharedModels() { return Path.of(System.getProperty("tessel.shared", "/work/shared")).resolve("models"); }

    /** The shared model's folder; skips the calling test, saying so, when it is absent. */
    static Path requireShared(String name) {
        Path dir = sharedModels().resolve(name);
        Assumptions.assumeTrue(Files.isRegularFile(dir.resolve("model.onnx")), "model " + name + " not found at " + dir + " (set -Dtessel.shared=DIR); skipping");
        return dir;
    }

    static Graph importShared(String name) { return OnnxImporter.importModel(requireShared(name).resolve("model.onnx")); }

    /** test_data_set_0's input_i.pb (or output_i.pb) tensors, in order. */
    static List<Tensor> dataSet(String name, String prefix) {
        Path d = requireShared(name).resolve("test_data_set_0");
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; Files.isRegularFile(d.resolve(prefix + i + ".pb")); i++) out.add(OnnxTensors.readTensor(d.resolve(prefix + i + ".pb")));
        return out;
    }

    static Graph load(String model) { return SHARED.contains(model) ? importShared(model) : Zoo.build(model); }
}

package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Assumptions;
import org.tessel.ir.Graph;

/** The six real models in the shared data: import, run with the reference interpreter, compare with onnxruntime's outputs. */
class SharedModelsTest {
    private static final Conformance.Options OPTIONS = Conformance.Options.defaults()
            .withTolerance(Conformance.Tolerance.MODELS).withTimeout(Duration.ofMinutes(3)).withExpectedFailures(java.util.Map.of());

    @ParameterizedTest
    @ValueSource(strings = {"light_resnet50", "light_inception_v1", "light_squeezenet", "mobilenet_v2_ts", "squeezenet1_1_dynamo", "bert_tiny_dynamo"})
    void modelMatchesReferenceOutputs(String name) {
        Path dir = SharedData.require("models").resolve(name);
        Assumptions.assumeTrue(Files.isRegularFile(dir.resolve("model.onnx")), "model " + name + " not found at " + dir + "; skipping");

        long t0 = System.nanoTime();
        Graph g = OnnxImporter.importModel(dir.resolve("model.onnx"));
        double importS = (System.nanoTime() - t0) / 1e9;

        Conformance.CaseResult r = Conformance.runCase(dir, OPTIONS);
        System.out.printf("%-22s %-4s import %.2f s, import+run %.2f s, %d nodes, %d constants%s%n", name, r.status(), importS, r.nanos() / 1e9,
                g.nodes().size(), g.constants().size(), r.reason() == null ? "" : " (" + r.reason() + ")");
        assertEquals(Conformance.Status.PASS, r.status(), name + ": " + r.reason());
        assertTrue(importS < 5, name + ": import took " + importS + " s; it should take a few seconds at most");
        if (name.equals("light_resnet50")) assertTrue(r.nanos() < 20e9, "light_resnet50 took " + r.nanos() / 1e9 + " s, should be well under 20 s");
    }
}

package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * ONNX's RotaryEmbedding node cases (opset 23: 3-D and 4-D X, with and without position_ids, interleaved, partial
 * rotary_embedding_dim), the op and its expanded function body, all through import and the reference interpreter.
 */
class RotaryEmbeddingConformanceTest {
    @Test void everyRotaryEmbeddingCasePasses() throws IOException {
        Path root = SharedData.require("onnx-node");
        List<Path> cases;
        try (Stream<Path> s = Files.list(root)) {
            cases = s.filter(p -> p.getFileName().toString().startsWith("test_rotary_embedding")).sorted().toList();
        }
        assertTrue(cases.size() >= 16, "expected ONNX's 16 rotary_embedding cases under " + root + ", found " + cases.size());
        for (Path c : cases) {
            Conformance.CaseResult r = Conformance.runCase(c, Conformance.Options.defaults());
            assertEquals(Conformance.Status.PASS, r.status(), c.getFileName() + ": " + r.reason());
        }
    }
}

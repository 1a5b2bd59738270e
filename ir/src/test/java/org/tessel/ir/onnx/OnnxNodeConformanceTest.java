package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Every ONNX operator conformance case in the shared data, through import and the reference interpreter. */
class OnnxNodeConformanceTest {
    @Test void allNodeCasesPassOrAreSkippedWithAReason() {
        Path dir = SharedData.require("onnx-node");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        long t0 = System.nanoTime();
        Conformance.Result r = Conformance.run(dir, null, new PrintStream(buf, true, StandardCharsets.UTF_8),
                Conformance.Options.defaults().withPrintSkips(false));
        String report = buf.toString(StandardCharsets.UTF_8);
        System.out.println(report);
        System.out.printf("onnx-node: %s in %.1f s%n", r.summary(), (System.nanoTime() - t0) / 1e9);
        assertTrue(r.total() > 1000, "expected the ~1,884 node cases under " + dir + ", found " + r.total());
        for (Conformance.Failure s : r.skips())
            assertTrue(!s.reason().isBlank(), s.caseName() + " is skipped without a reason");
        if (r.failed() > 0)
            fail(r.failed() + " node case(s) fail:\n" + r.failures().stream().map(f -> f.caseName() + ": " + f.reason()).collect(Collectors.joining("\n")));
    }

    /** The opset-23 RMSNormalization cases run as the op (their _expanded twins need Range, which Tessel lacks). */
    @Test void rmsNormalizationCasesPass() {
        Conformance.Result r = Conformance.run(SharedData.require("onnx-node"), Pattern.compile("^test_rms_normalization_(?!.*_expanded$)"),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), Conformance.Options.defaults());
        assertEquals(19, r.total(), r.summary());
        assertEquals(19, r.passed(), r.failures() + " " + r.skips());
    }

    /** The Attention cases (opsets 23 to 25) run as the op; their _expanded twins need Range. */
    @Test void attentionCasesPass() {
        Conformance.Result r = Conformance.run(SharedData.require("onnx-node"), Pattern.compile("^test_attention_(?!.*_expanded$)"),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), Conformance.Options.defaults());
        assertEquals(93, r.total(), r.summary());
        assertEquals(93, r.passed(), r.failures() + " " + r.skips());
    }

    /** The Einsum cases: contractions, a diagonal, sums, a transpose, a scalar. */
    @Test void einsumCasesPass() {
        Conformance.Result r = Conformance.run(SharedData.require("onnx-node"), Pattern.compile("^test_einsum_"),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), Conformance.Options.defaults());
        assertEquals(9, r.total(), r.summary());
        assertEquals(9, r.passed(), r.failures() + " " + r.skips());
    }

    /** Tile (repeats as a graph input, bound as a constant, and as an initializer) and GatherND (f32, i32, batch_dims 1). */
    @Test void tileAndGatherNdCasesPass() {
        Conformance.Result r = Conformance.run(SharedData.require("onnx-node"), Pattern.compile("^test_(tile|gathernd)_?"),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), Conformance.Options.defaults());
        assertEquals(5, r.total(), r.summary());
        assertEquals(5, r.passed(), r.failures() + " " + r.skips());
    }
}

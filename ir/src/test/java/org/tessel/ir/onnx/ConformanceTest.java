package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.ir.onnx.OnnxModels.FLOAT;
import static org.tessel.ir.onnx.OnnxModels.INT64;
import static org.tessel.ir.onnx.OnnxModels.floatAttr;
import static org.tessel.ir.onnx.OnnxModels.graph;
import static org.tessel.ir.onnx.OnnxModels.model;
import static org.tessel.ir.onnx.OnnxModels.node;
import static org.tessel.ir.onnx.OnnxModels.tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.onnx.Conformance.Tolerance;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;

class ConformanceTest {
    private static final Tolerance TOL = Tolerance.NODE;

    @Test void compareAllowsToleranceAndNaN() {
        Tensor want = Tensor.ofFloats(Shape.of(3), 1f, Float.NaN, Float.POSITIVE_INFINITY);
        assertNull(Conformance.compare(want, Tensor.ofFloats(Shape.of(3), 1.0005f, Float.NaN, Float.POSITIVE_INFINITY), TOL));
        assertEquals("element 0: expected 1.0, got 1.0019999742507935 (shape [3])",
                Conformance.compare(want, Tensor.ofFloats(Shape.of(3), 1.002f, Float.NaN, Float.POSITIVE_INFINITY), TOL));
        assertEquals("element 1: expected NaN, got 0.0 (shape [3], 2 elements differ)",
                Conformance.compare(want, Tensor.ofFloats(Shape.of(3), 1f, 0f, 1f), TOL));
    }

    @Test void compareIsExactForIntegersAndChecksTypes() {
        Tensor want = Tensor.ofLongs(DType.I64, Shape.of(2), 5, 6);
        assertNull(Conformance.compare(want, Tensor.ofLongs(DType.I64, Shape.of(2), 5, 6), TOL));
        assertEquals("element 1: expected 6, got 7 (shape [2])", Conformance.compare(want, Tensor.ofLongs(DType.I64, Shape.of(2), 5, 7), TOL));
        assertEquals("type: expected i64[2], got i32[2]", Conformance.compare(want, Tensor.ofLongs(DType.I32, Shape.of(2), 5, 6), TOL));
        assertEquals("type: expected i64[2], got i64[1,2]", Conformance.compare(want, Tensor.ofLongs(DType.I64, Shape.of(1, 2), 5, 6), TOL));
    }

    @Test void halfPrecisionGetsAFewUnitsInTheLastPlace() {
        Tensor want = Tensor.ofFloats(DType.F16, Shape.of(1), new float[] {1000f});
        assertNull(Conformance.compare(want, Tensor.ofFloats(DType.F16, Shape.of(1), new float[] {1001f}), TOL), "1 ulp of f16 at 1000 is 0.5; 2 ulps pass");
        assertTrue(Conformance.compare(want, Tensor.ofFloats(DType.F16, Shape.of(1), new float[] {1010f}), TOL) != null);
    }

    private static void writeCase(Path dir, ModelProto m, List<Tensor> ins, List<Tensor> outs) throws IOException {
        Files.createDirectories(dir.resolve("test_data_set_0"));
        Files.write(dir.resolve("model.onnx"), m.toByteArray());
        for (int i = 0; i < ins.size(); i++) OnnxTensors.writeTensor(dir.resolve("test_data_set_0/input_" + i + ".pb"), ins.get(i));
        for (int i = 0; i < outs.size(); i++) OnnxTensors.writeTensor(dir.resolve("test_data_set_0/output_" + i + ".pb"), outs.get(i), "y");
    }

    private static ModelProto scale(float alpha) {
        return model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Scale", "s", List.of("x"), List.of("y"), floatAttr("alpha", alpha)).setDomain("test")));
    }

    @Test void runsAFolderOfCasesAndReportsEachOutcome(@TempDir Path root) throws IOException {
        Tensor x = Tensor.ofFloats(Shape.of(2), 1, 2);
        writeCase(root.resolve("test_scale_ok"), scale(3), List.of(x), List.of(Tensor.ofFloats(Shape.of(2), 3, 6)));
        writeCase(root.resolve("test_scale_wrong"), scale(3), List.of(x), List.of(Tensor.ofFloats(Shape.of(2), 3, 7)));
        writeCase(root.resolve("test_scale_listed"), scale(3), List.of(x), List.of(Tensor.ofFloats(Shape.of(2), 0, 0)));
        writeCase(root.resolve("test_myop"), model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("MyOp", "m", List.of("x"), List.of("y")).setDomain("com.acme"))), List.of(x), List.of(x));
        // the target shape arrives as a graph input, as in ONNX's node cases: the runner binds it as a constant
        writeCase(root.resolve("test_reshape_input_shape"), model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addInput(tensor("shape", INT64, 2))
                        .addOutput(tensor("y", FLOAT, 1, 2)).addNode(node("Reshape", "r", List.of("x", "shape"), List.of("y")))),
                List.of(x, Tensor.ofLongs(DType.I64, Shape.of(2), 1, 2)), List.of(Tensor.ofFloats(Shape.of(1, 2), 1, 2)));

        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Conformance.Options opt = Conformance.Options.defaults().withRegistry(OnnxModels.registry())
                .withExpectedFailures(Map.of("test_scale_listed", "writes zeros on purpose"));
        Conformance.Result r = Conformance.run(root, null, new PrintStream(buf, true, StandardCharsets.UTF_8), opt);
        String out = buf.toString(StandardCharsets.UTF_8);

        assertEquals(2, r.passed(), out);
        assertEquals(1, r.failed(), out);
        assertEquals(2, r.skipped(), out);
        assertTrue(out.contains("FAIL test_scale_wrong: output 0 element 1: expected 7.0, got 6.0 (shape [2])\n"), out);
        assertTrue(out.contains("skip test_myop: op com.acme.MyOp not supported\n"), out);
        assertTrue(out.contains("skip test_scale_listed: expected failure: writes zeros on purpose\n"), out);
        String[] lines = out.strip().split("\n");
        assertEquals("2 passed, 1 failed, 2 skipped", lines[lines.length - 1], "the summary comes last");
        assertEquals(new Conformance.OpStats("Scale", 3, 1, 1, 1), r.perOp().get("Scale"));
        assertEquals(new Conformance.OpStats("Reshape", 1, 1, 0, 0), r.perOp().get("Reshape"));
        assertTrue(out.matches("(?s).*\\nop +cases +passed +failed +skipped\\n.*"), out);

        Conformance.Result only = Conformance.run(root, Pattern.compile("^test_scale_ok$"), new PrintStream(new ByteArrayOutputStream()), opt);
        assertEquals(1, only.total());
    }

    @Test void builtinExpectedFailuresHaveReasons() {
        for (var e : Conformance.builtinExpectedFailures().entrySet()) {
            assertTrue(e.getKey().startsWith("test_"), e.getKey());
            assertTrue(e.getValue().length() > 10 && !e.getValue().equals("listed"), e.getKey() + " needs a real reason");
        }
    }
}

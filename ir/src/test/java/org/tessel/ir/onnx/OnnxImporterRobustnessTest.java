package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.ir.onnx.OnnxModels.FLOAT;
import static org.tessel.ir.onnx.OnnxModels.INT64;
import static org.tessel.ir.onnx.OnnxModels.floatAttr;
import static org.tessel.ir.onnx.OnnxModels.graph;
import static org.tessel.ir.onnx.OnnxModels.intAttr;
import static org.tessel.ir.onnx.OnnxModels.intsAttr;
import static org.tessel.ir.onnx.OnnxModels.model;
import static org.tessel.ir.onnx.OnnxModels.node;
import static org.tessel.ir.onnx.OnnxModels.tensor;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/**
 * Corrupted models must fail with an {@link OnnxImportException} that names the file, never with
 * another exception, a stack trace from deep inside, or a hang.
 */
class OnnxImporterRobustnessTest {
    /** A model touching many import paths: initializers, folding, opset-9 rewrites, Constant nodes. */
    private static final byte[] MODEL = model(9, graph("g")
            .addInput(tensor("x", FLOAT, "N", 2, 3)).addOutput(tensor("y", FLOAT, 1, 6)).addOutput(tensor("z", FLOAT, 1, 2, 3))
            .addInitializer(OnnxTensors.toProto(Tensor.ofFloats(Shape.of(3), 1, 2, 3), "w"))
            .addInitializer(OnnxTensors.toProto(Tensor.ofLongs(DType.I64, Shape.of(2), 1, 6), "shape"))
            .addNode(node("Constant", "k", List.of(), List.of("two"), floatAttr("value_float", 2f)))
            .addNode(node("Mul", "mul", List.of("x", "w"), List.of("m")))
            .addNode(node("Clip", "clip", List.of("m"), List.of("c"), floatAttr("min", 0f), floatAttr("max", 6f)))
            .addNode(node("Reshape", "reshape", List.of("c", "shape"), List.of("r")))
            .addNode(node("Softmax", "softmax", List.of("r"), List.of("y"), intAttr("axis", 1)))
            .addNode(node("Unsqueeze", "unsq", List.of("w"), List.of("w2"), intsAttr("axes", 0)))
            .addNode(node("Add", "add", List.of("c", "w2"), List.of("z")))).toByteArray();

    private static void importMustFailCleanly(byte[] bytes) {
        try {
            OnnxImporter.importModel(bytes, "fuzz.onnx", OnnxModels.options());
        } catch (OnnxImportException e) {
            assertTrue(e.getMessage().startsWith("fuzz.onnx: "), "message must name the file: " + e.getMessage());
            // the importer's last-resort wrapper means some check was missing before an op or the IR broke
            assertTrue(!e.getMessage().contains("internal error"), e.getMessage());
        }
    }

    @Property(tries = 1000)
    void flippedBytesFailCleanly(@ForAll @IntRange(min = 0, max = 100_000) int position, @ForAll @IntRange(min = 1, max = 255) int mask) {
        byte[] b = MODEL.clone();
        b[position % b.length] ^= (byte) mask;
        importMustFailCleanly(b);
    }

    @Property(tries = 100)
    void truncatedModelsFailCleanly(@ForAll @IntRange(min = 0, max = 100_000) int cut) {
        importMustFailCleanly(java.util.Arrays.copyOf(MODEL, cut % MODEL.length));
    }

    @Property(tries = 100)
    void overwrittenRunsFailCleanly(@ForAll @IntRange(min = 0, max = 100_000) int position, @ForAll @IntRange(min = 0, max = 255) int value,
                                    @ForAll @IntRange(min = 1, max = 8) int length) {
        byte[] b = MODEL.clone();
        for (int i = 0; i < length; i++) b[(position + i) % b.length] = (byte) value;
        importMustFailCleanly(b);
    }

    @net.jqwik.api.Example
    void theUnmodifiedModelImports() {
        var g = OnnxImporter.importModel(MODEL, "fuzz.onnx", OnnxModels.options());
        assertTrue(g.nodes().size() >= 4, g.nodes().toString());
    }
}

package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.*;
import static org.tessel.ir.onnx.OnnxModels.*;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.onnx.OnnxImportException.Kind;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.OperatorSetIdProto;

/** Opsets below 9 and above 21, and ONNX's other domains: imported with their meaning or refused naming the opset and the range. */
class OpsetRangeTest {
    private static ModelProto reluAt(long opset) {
        return model(opset, graph("g").addInput(tensor("x", FLOAT, 2, 3)).addOutput(tensor("y", FLOAT, 2, 3))
                .addNode(node("Relu", "r", List.of("x"), List.of("y"))));
    }

    private static OnnxImportException refused(ModelProto m) {
        return assertThrows(OnnxImportException.class, () -> OnnxImporter.importModel(m.toByteArray(), "m.onnx"));
    }

    @Test void opsetsNewerThanTheCheckedOnesAreRefusedNamingTheOpsetAndTheRange() {
        OnnxImportException e = refused(reluAt(29));
        assertEquals(Kind.UNSUPPORTED_FEATURE, e.kind());
        assertTrue(e.getMessage().startsWith("m.onnx: the model imports opset 29 of the default ONNX domain; Tessel reads opsets 1 to 28"), e.getMessage());
        assertTrue(e.getMessage().contains("convert the model to opset 28 or older"), e.getMessage());
        assertTrue(refused(reluAt(0)).getMessage().contains("opset 0 of the default ONNX domain; Tessel reads opsets 1 to 28"));
    }

    @Test void everyOpsetInTheRangeImports() {
        for (long v = 1; v <= 28; v++) assertEquals(1, OnnxImporter.importModel(reluAt(v).toByteArray(), "m.onnx").nodes().size(), "opset " + v);
    }

    @Test void aDomainListedTwiceIsRefused() {
        ModelProto m = reluAt(13).toBuilder().addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).build();
        assertTrue(refused(m).getMessage().contains("opset_import lists domain '' twice"));
    }

    @Test void opset4ReshapeWithItsShapeAttributeMeansWhatItSays() {
        ModelProto m = model(4, graph("g").addInput(tensor("x", FLOAT, 2, 3)).addOutput(tensor("y", FLOAT, 3, 2))
                .addNode(node("Reshape", "r", List.of("x"), List.of("y"), intsAttr("shape", 3, -1))));
        Graph g = OnnxImporter.importModel(m.toByteArray(), "m.onnx");
        Tensor out = new ReferenceInterpreter().run(g, List.of(Tensor.ofFloats(Shape.of(2, 3), 1, 2, 3, 4, 5, 6))).getFirst();
        assertEquals(Shape.of(3, 2), out.shape());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, out.floats());
    }

    @Test void opset5TileWithTilesAndAxisInputsIsRefused() {
        ModelProto m = model(5, graph("g").addInput(tensor("x", FLOAT, 2)).addInput(tensor("t", INT64, 1)).addInput(tensor("a", INT64, 1))
                .addOutput(tensor("y", FLOAT, 4)).addNode(node("Tile", "tile", List.of("x", "t", "a"), List.of("y"))));
        OnnxImportException e = refused(m);
        assertTrue(e.getMessage().contains("node 'tile' (Tile): opset-5 Tile (inputs tiles and axis) is not supported; Tessel reads Tile from opset 6"), e.getMessage());
    }

    private static ModelProto gatherNdAt(long opset, boolean batchDims) {
        var n = node("GatherND", "gnd", List.of("x", "i"), List.of("y"));
        if (batchDims) n.addAttribute(intAttr("batch_dims", 1));
        return model(opset, graph("g").addInput(tensor("x", FLOAT, 2, 3)).addInput(tensor("i", INT64, 2, 1)).addOutput(tensor("y", FLOAT, 2)).addNode(n));
    }

    @Test void gatherNdReadsOpsets11To13AndBatchDimsFrom12() {
        Tensor x = Tensor.ofFloats(Shape.of(2, 3), 1, 2, 3, 4, 5, 6), i = Tensor.ofLongs(org.tessel.api.DType.I64, Shape.of(2, 1), 2, -3);
        for (long v : new long[] {12, 13, 18}) {
            Graph g = OnnxImporter.importModel(gatherNdAt(v, true).toByteArray(), "m.onnx");
            assertArrayEquals(new float[] {3, 4}, new ReferenceInterpreter().run(g, List.of(x, i)).getFirst().floats(), "opset " + v);
        }
        // opset 11: no batch axes, so each one-coordinate tuple picks a row
        ModelProto rows = model(11, graph("g").addInput(tensor("x", FLOAT, 2, 3)).addInput(tensor("i", INT64, 2, 1)).addOutput(tensor("y", FLOAT, 2, 3))
                .addNode(node("GatherND", "gnd", List.of("x", "i"), List.of("y"))));
        Graph g = OnnxImporter.importModel(rows.toByteArray(), "m.onnx");
        Tensor i11 = Tensor.ofLongs(org.tessel.api.DType.I64, Shape.of(2, 1), 1, -2);
        assertArrayEquals(new float[] {4, 5, 6, 1, 2, 3}, new ReferenceInterpreter().run(g, List.of(x, i11)).getFirst().floats());
        OnnxImportException e = refused(gatherNdAt(11, true));
        assertTrue(e.getMessage().contains("node 'gnd' (GatherND): opset-11 GatherND has no attribute 'batch_dims' (it came with opset 12)"), e.getMessage());
    }

    @Test void onnxNodeCasesAtOldAndNewOpsetsPassAndClassicalMlIsRefusedNamingItsDomain() {
        Path root = SharedData.require("onnx-node");
        // opset 1 (Not), 7 (And), 22 (Acos: bf16 added), 25 (Transpose, Reshape, Flatten: types), 28 (Celu: types), 22's clarified ceil_mode pools
        for (String c : List.of("test_not_2d", "test_and_bcast3v1d", "test_acos", "test_transpose_default", "test_reshape_reordered_all_dims", "test_flatten_axis1", "test_celu", "test_averagepool_2d_ceil_last_window_starts_on_pad",
                "test_maxpool_2d_ceil_output_size_reduce_by_one")) {
            Conformance.CaseResult r = Conformance.runCase(root.resolve(c), Conformance.Options.defaults());
            assertEquals(Conformance.Status.PASS, r.status(), c + ": " + r.reason());
        }
        OnnxImportException e = assertThrows(OnnxImportException.class, () -> OnnxImporter.importModel(root.resolve("test_ai_onnx_ml_binarizer/model.onnx")));
        assertEquals(Kind.UNKNOWN_OP, e.kind());
        assertTrue(e.getMessage().contains("(Binarizer, domain ai.onnx.ml): Tessel has no ops of domain ai.onnx.ml, ONNX's classical machine-learning domain"), e.getMessage());
    }
}

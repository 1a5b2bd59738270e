package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.ir.onnx.OnnxModels.FLOAT;
import static org.tessel.ir.onnx.OnnxModels.INT64;
import static org.tessel.ir.onnx.OnnxModels.floatAttr;
import static org.tessel.ir.onnx.OnnxModels.graph;
import static org.tessel.ir.onnx.OnnxModels.intAttr;
import static org.tessel.ir.onnx.OnnxModels.intsAttr;
import static org.tessel.ir.onnx.OnnxModels.model;
import static org.tessel.ir.onnx.OnnxModels.node;
import static org.tessel.ir.onnx.OnnxModels.options;
import static org.tessel.ir.onnx.OnnxModels.stringAttr;
import static org.tessel.ir.onnx.OnnxModels.tensor;
import static org.tessel.ir.onnx.OnnxModels.tensorAttr;

import com.google.protobuf.ByteString;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxImportException.Kind;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.SparseTensorStub;
import org.tessel.ir.onnx.proto.Onnx.StringStringEntryProto;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;

class OnnxImporterTest {
    private static Graph load(ModelProto m) { return OnnxImporter.importModel(m.toByteArray(), "m.onnx", options()); }

    private static Graph load(ModelProto m, OnnxImporter.Options o) { return OnnxImporter.importModel(m.toByteArray(), "m.onnx", o.withRegistry(OnnxModels.registry())); }

    private static OnnxImportException fails(ModelProto m) {
        return assertThrows(OnnxImportException.class, () -> load(m));
    }

    private static OnnxImportException fails(byte[] bytes) {
        return assertThrows(OnnxImportException.class, () -> OnnxImporter.importModel(bytes, "broken.onnx", options()));
    }

    /** x[2,3] -> test.Scale(alpha=2) -> y. */
    private static ModelProto scaleModel() {
        return model(21, graph("g").addInput(tensor("x", FLOAT, 2, 3)).addOutput(tensor("y", FLOAT, 2, 3))
                .addNode(node("Scale", "s", List.of("x"), List.of("y"), floatAttr("alpha", 2f)).setDomain("test")));
    }

    private static Tensor run(Graph g, Tensor... ins) { return new ReferenceInterpreter().run(g, List.of(ins)).getFirst(); }

    private static float[] floats(Tensor t) { return t.cast(DType.F32).floats(); }

    // ---- well-formed models ------------------------------------------------------------------

    @Test void importsAndRunsASimpleModel() {
        Graph g = load(scaleModel());
        assertEquals("g", g.name());
        assertEquals(1, g.nodes().size());
        Node n = g.nodes().getFirst();
        assertEquals("s", n.name());
        assertEquals("test.Scale", n.opName());
        assertEquals(TensorType.of(DType.F32, 2, 3), g.outputs().getFirst().type());
        Tensor y = run(g, Tensor.ofFloats(Shape.of(2, 3), 1, 2, 3, 4, 5, 6));
        assertArrayEquals(new float[] {2, 4, 6, 8, 10, 12}, y.floats());
    }

    @Test void keepsOddValueNamesAndNamesUnnamedNodesAfterTheirOp() {
        ModelProto m = model(21, graph("g").addInput(tensor("gpu_0/data:0", FLOAT, 1)).addOutput(tensor("out put", FLOAT, 1))
                .addNode(node("Scale", null, List.of("gpu_0/data:0"), List.of("mid")).setDomain("test"))
                .addNode(node("Scale", null, List.of("mid"), List.of("out put")).setDomain("test")));
        Graph g = load(m, OnnxImporter.Options.defaults().withFolding(false));
        assertEquals("gpu_0/data:0", g.inputs().getFirst().name());
        assertEquals("out put", g.outputs().getFirst().name());
        assertEquals(List.of("Scale", "Scale_1"), g.nodes().stream().map(Node::name).toList());
    }

    @Test void sortsNodesThatTheFileListsOutOfOrder() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 1)).addOutput(tensor("z", FLOAT, 1))
                .addNode(node("Scale", "second", List.of("y"), List.of("z")).setDomain("test"))
                .addNode(node("Scale", "first", List.of("x"), List.of("y")).setDomain("test")));
        Graph g = load(m);
        assertEquals(List.of("first", "second"), g.nodes().stream().map(Node::name).toList());
    }

    @Test void initializersAndInputsWithInitializersBecomeConstants() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addInput(tensor("w", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addInitializer(OnnxTensors.toProto(Tensor.ofFloats(Shape.of(2), 3, 4), "w"))
                .addInitializer(OnnxTensors.toProto(Tensor.ofFloats(Shape.of(2), 5, 6), "unused"))
                .addNode(node("Add", "add", List.of("x", "w"), List.of("y"))));
        Graph g = load(m);
        assertEquals(List.of("x"), g.inputs().stream().map(Value::name).toList());
        assertEquals(List.of("w"), g.constants().stream().map(Value::name).toList(), "unused initializers are dropped");
        assertArrayEquals(new float[] {4, 6}, run(g, Tensor.ofFloats(Shape.of(2), 1, 2)).floats());
    }

    @Test void readsTypedInitializerFields() {
        TensorProto f16 = TensorProto.newBuilder().setName("h").setDataType(10).addDims(2)
                .addInt32Data(Float.floatToFloat16(1.5f) & 0xFFFF).addInt32Data(Float.floatToFloat16(-2f) & 0xFFFF).build();
        TensorProto f32 = TensorProto.newBuilder().setName("f").setDataType(1).addDims(2).addFloatData(0.25f).addFloatData(7f).build();
        TensorProto i64 = TensorProto.newBuilder().setName("l").setDataType(7).addDims(1).addInt64Data(-9).build();
        TensorProto u8 = TensorProto.newBuilder().setName("u").setDataType(2).addDims(1).addInt32Data(200).build();
        assertArrayEquals(new float[] {1.5f, -2f}, OnnxTensors.fromProto(f16, "h").floats());
        assertArrayEquals(new float[] {0.25f, 7f}, OnnxTensors.fromProto(f32, "f").floats());
        assertArrayEquals(new long[] {-9}, OnnxTensors.fromProto(i64, "l").longs());
        assertArrayEquals(new long[] {200}, OnnxTensors.fromProto(u8, "u").longs());
    }

    @Test void constantNodesOfEveryFormBecomeConstants() {
        ModelProto m = model(21, graph("g").addOutput(tensor("a", FLOAT)).addOutput(tensor("b", INT64, 3)).addOutput(tensor("c", FLOAT, 2))
                .addNode(node("Constant", "ca", List.of(), List.of("a"), floatAttr("value_float", 2.5f)))
                .addNode(node("Constant", "cb", List.of(), List.of("b"), intsAttr("value_ints", 1, 2, 3)))
                .addNode(node("Constant", "cc", List.of(), List.of("c"), tensorAttr("value", Tensor.ofFloats(Shape.of(2), 8, 9)))));
        Graph g = load(m);
        assertEquals(0, g.nodes().size());
        assertEquals(2.5, g.value("a").constantValue().getDouble(0));
        assertArrayEquals(new long[] {1, 2, 3}, g.value("b").constantValue().longs());
        assertArrayEquals(new float[] {8, 9}, g.value("c").constantValue().floats());
    }

    @Test void symbolicBatchDefaultsToOneAndTakesTheBatchOption() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, "N", 3)).addOutput(tensor("y", FLOAT, "N", 3))
                .addNode(node("Scale", "s", List.of("x"), List.of("y")).setDomain("test")));
        assertEquals(Shape.of(1, 3), load(m).inputs().getFirst().type().shape());
        assertEquals(Shape.of(8, 3), load(m, OnnxImporter.Options.defaults().withBatchSize(8)).inputs().getFirst().type().shape());
        assertEquals(Shape.of(4, 3), load(m, OnnxImporter.Options.defaults().withDim("N", 4)).inputs().getFirst().type().shape());
    }

    @Test void forcedBatchReplacesAFixedFirstDimension() {
        Graph g = load(scaleModel(), OnnxImporter.Options.defaults().withForcedBatchSize(5));
        assertEquals(Shape.of(5, 3), g.inputs().getFirst().type().shape());
        assertEquals(Shape.of(5, 3), g.outputs().getFirst().type().shape());
    }

    @Test void otherSymbolicDimsNeedAValueByName() {
        ModelProto m = model(21, graph("g").addInput(tensor("ids", FLOAT, "batch", "sequence")).addOutput(tensor("y", FLOAT, "batch", "sequence"))
                .addNode(node("Scale", "s", List.of("ids"), List.of("y")).setDomain("test")));
        OnnxImportException e = fails(m);
        assertTrue(e.getMessage().contains("graph input 'ids' has shape [batch,sequence]: dimension 1 is symbolic ('sequence'); give its size with --dim sequence=N"), e.getMessage());
        assertEquals(Shape.of(1, 128), load(m, OnnxImporter.Options.defaults().withDim("sequence", 128)).inputs().getFirst().type().shape());
    }

    /** x[1,4] -> Relu -> Reshape(shape) -> y: shape [-1,4] follows the batch, [1,-1] pins it. */
    private static ModelProto reshapeModel(long... shape) {
        return model(21, graph("g").addInput(tensor("x", FLOAT, 1, 4)).addOutput(tensor("y", FLOAT, "a", "b"))
                .addInitializer(OnnxTensors.toProto(Tensor.ofLongs(DType.I64, Shape.of(shape.length), shape), "shape"))
                .addNode(node("Relu", "relu", List.of("x"), List.of("r")))
                .addNode(node("Reshape", "flatten", List.of("r", "shape"), List.of("y"))));
    }

    @Test void aFixedBatchOfOneIsRebatchedWhenTheGraphScales() {
        Graph g = load(reshapeModel(-1, 4), OnnxImporter.Options.defaults().withBatchSize(3));
        assertEquals(Shape.of(3, 4), g.inputs().getFirst().type().shape());
        assertEquals(Shape.of(3, 4), g.outputs().getFirst().type().shape());
        assertEquals(Shape.of(1, 4), load(reshapeModel(-1, 4), OnnxImporter.Options.defaults().withBatchSize(1)).outputs().getFirst().type().shape());
    }

    @Test void aNodeThatPinsTheBatchIsNamedAndTheImportRefused() {
        // [1,-1] imports at batch 3 (as [1,12]) but mixes the samples: found by comparing with batch 1
        OnnxImportException e = assertThrows(OnnxImportException.class, () -> load(reshapeModel(1, -1), OnnxImporter.Options.defaults().withBatchSize(3)));
        assertEquals("m.onnx: batch size 3 was asked of a model whose inputs have a fixed batch dimension of 1, and it cannot be rebatched: node 'flatten' (Reshape) "
                + "does not scale with the batch: its result %y is f32[1,4] at batch 1 and f32[1,12] at batch 3; export the model with a symbolic batch dimension "
                + "to build other batch sizes", e.getMessage());
        // [1,4] cannot even be imported at batch 3: that failure is the reason given
        e = assertThrows(OnnxImportException.class, () -> load(reshapeModel(1, 4), OnnxImporter.Options.defaults().withBatchSize(3)));
        assertTrue(e.getMessage().startsWith("m.onnx: batch size 3 was asked of a model whose inputs have a fixed batch dimension of 1, and it cannot be rebatched: "
                + "at batch 3, node 'flatten' (Reshape): "), e.getMessage());
    }

    @Test void aFixedBatchOtherThanOneOrTheAskedSizeIsRefused() {
        OnnxImportException e = assertThrows(OnnxImportException.class, () -> load(scaleModel(), OnnxImporter.Options.defaults().withBatchSize(4)));
        assertTrue(e.getMessage().contains("batch size 4 was asked, but graph input 'x' has a fixed batch dimension of 2"), e.getMessage());
        assertEquals(Shape.of(2, 3), load(scaleModel(), OnnxImporter.Options.defaults().withBatchSize(2)).inputs().getFirst().type().shape(), "the model's own size");
        assertThrows(IllegalArgumentException.class, () -> OnnxImporter.Options.defaults().withBatchSize(0));
    }

    @Test void aSizeForADimensionNoInputHasListsTheOnesThereAre() {
        ModelProto m = model(21, graph("g").addInput(tensor("ids", FLOAT, "batch", "sequence")).addOutput(tensor("y", FLOAT, "batch", "sequence"))
                .addNode(node("Scale", "s", List.of("ids"), List.of("y")).setDomain("test")));
        OnnxImportException e = assertThrows(OnnxImportException.class, () -> load(m, OnnxImporter.Options.defaults().withDim("sequence", 8).withDim("seqlen", 8)));
        assertEquals("m.onnx: a size was given for dimension 'seqlen', but no graph input has a symbolic dimension of that name; "
                + "the inputs' symbolic dimensions are batch, sequence", e.getMessage());
        assertEquals(Shape.of(1, 16), load(m, OnnxImporter.Options.defaults().withSequenceLength(16)).inputs().getFirst().type().shape(), "--seq fills 'seq...' dimensions");
        e = assertThrows(OnnxImportException.class, () -> load(scaleModel(), OnnxImporter.Options.defaults().withSequenceLength(16)));
        assertEquals("m.onnx: a sequence length was given, but no graph input has a symbolic dimension named 'seq...'; the inputs have no symbolic dimensions", e.getMessage());
    }

    @Test void aDeclaredOutputTypeThatDisagreesIsNamed() {
        ModelProto wrongType = model(21, graph("g").addInput(tensor("x", FLOAT, 2, 3)).addOutput(tensor("y", INT64, 2, 3))
                .addNode(node("Relu", "r", List.of("x"), List.of("y"))));
        assertEquals("m.onnx: graph output 'y' is declared INT64, but the graph computes f32 (f32[2,3])", fails(wrongType).getMessage());
        ModelProto wrongShape = model(21, graph("g").addInput(tensor("x", FLOAT, 2, 3)).addOutput(tensor("y", FLOAT, 2, 4))
                .addNode(node("Relu", "r", List.of("x"), List.of("y"))));
        assertEquals("m.onnx: graph output 'y' is declared with shape [2,4], but the graph computes f32[2,3]", fails(wrongShape).getMessage());
        ModelProto symbolic = model(21, graph("g").addInput(tensor("x", FLOAT, "N", 3)).addOutput(tensor("y", FLOAT, "N", 3))
                .addNode(node("Relu", "r", List.of("x"), List.of("y"))));
        assertEquals(Shape.of(5, 3), load(symbolic, OnnxImporter.Options.defaults().withBatchSize(5)).outputs().getFirst().type().shape(), "symbolic dimensions are free");
    }

    @Test void dimsCanBeGivenAsText() {
        OnnxImporter.Options o = OnnxImporter.Options.defaults().withDims("sequence=128, past = 0");
        assertEquals(Map.of("sequence", 128L, "past", 0L), o.dims());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OnnxImporter.Options.defaults().withDims("sequence:128"));
        assertEquals("dimension 'sequence:128' must be written name=size", e.getMessage());
    }

    @Test void hugeFoldedResultsStayNodes() {
        // ConstantOfShape of 2^27 floats (512 MiB) is left to run time rather than materialized at import
        ModelProto m = model(21, graph("g").addOutput(tensor("big", FLOAT, 1 << 27))
                .addInitializer(OnnxTensors.toProto(Tensor.ofLongs(DType.I64, Shape.of(1), 1 << 27), "shape"))
                .addNode(node("ConstantOfShape", "fill", List.of("shape"), List.of("big"))));
        Graph g = load(m);
        assertEquals(List.of("ConstantOfShape"), g.nodes().stream().map(Node::opName).toList());
    }

    @Test void bindsInputsToValuesAsConstants() {
        Graph g = load(scaleModel(), OnnxImporter.Options.defaults().withConstantInput("x", Tensor.ofFloats(Shape.of(2, 3), 1, 1, 1, 1, 1, 1)));
        assertEquals(0, g.inputs().size());
        assertEquals(0, g.nodes().size(), "the Scale node folds");
        assertArrayEquals(new float[] {2, 2, 2, 2, 2, 2}, g.outputs().getFirst().constantValue().floats());
    }

    // ---- constant folding ---------------------------------------------------------------------

    /** Reshape(x, Concat(Gather(Shape(x), 0), [-1])): the shape subgraph exporters write. */
    private static ModelProto shapeSubgraph() {
        return model(21, graph("g").addInput(tensor("x", FLOAT, 2, 3, 4)).addOutput(tensor("y", FLOAT, 2, 12))
                .addInitializer(OnnxTensors.toProto(Tensor.ofLongs(DType.I64, Shape.scalar(), 0), "zero"))
                .addInitializer(OnnxTensors.toProto(Tensor.ofLongs(DType.I64, Shape.of(1), -1), "minus1"))
                .addNode(node("Shape", "shape", List.of("x"), List.of("s")))
                .addNode(node("Gather", "gather", List.of("s", "zero"), List.of("n")))
                .addNode(node("Unsqueeze", "unsq", List.of("n", "zero"), List.of("n1")))
                .addNode(node("Concat", "concat", List.of("n1", "minus1"), List.of("target"), intAttr("axis", 0)))
                .addNode(node("Reshape", "reshape", List.of("x", "target"), List.of("y"))));
    }

    @Test void foldsShapeSubgraphsIntoConstants() {
        Graph g = load(shapeSubgraph());
        assertEquals(List.of("Reshape"), g.nodes().stream().map(Node::opName).toList());
        assertArrayEquals(new long[] {2, -1}, g.value("target").constantValue().longs());
        assertEquals(List.of("target"), g.constants().stream().map(Value::name).toList(), "intermediate folded values are dropped");
        assertEquals(Shape.of(2, 12), g.outputs().getFirst().type().shape());
    }

    @Test void withoutFoldingTheShapeSubgraphCannotFeedReshape() {
        OnnxImportException e = assertThrows(OnnxImportException.class, () -> load(shapeSubgraph(), OnnxImporter.Options.defaults().withFolding(false)));
        assertEquals(Kind.OP_ERROR, e.kind());
        assertTrue(e.getMessage().startsWith("m.onnx: node 'reshape' (Reshape): "), e.getMessage());
        assertTrue(e.getMessage().contains("must be a constant"), e.getMessage());
    }

    @Test void shapeHonoursStartAndEnd() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 2, 3, 4, 5)).addOutput(tensor("s", INT64, 2))
                .addNode(node("Shape", "shape", List.of("x"), List.of("s"), intAttr("start", 1), intAttr("end", -1))));
        assertArrayEquals(new long[] {3, 4}, load(m).outputs().getFirst().constantValue().longs());
    }

    // ---- older opsets -------------------------------------------------------------------------

    @Test void clipAttributesOfOpset6BecomeInputs() {
        ModelProto m = model(9, graph("g").addInput(tensor("x", FLOAT, 4)).addOutput(tensor("y", FLOAT, 4))
                .addNode(node("Clip", "clip", List.of("x"), List.of("y"), floatAttr("min", -1f), floatAttr("max", 2f))));
        Graph g = load(m);
        Node n = g.nodes().getFirst();
        assertEquals(3, n.numInputs());
        assertTrue(n.attrs().isEmpty());
        assertArrayEquals(new float[] {-1, 0.5f, 2, 2}, run(g, Tensor.ofFloats(Shape.of(4), -3, 0.5f, 2, 9)).floats());
    }

    @Test void clipWithOnlyAMaximumLeavesMinAbsent() {
        ModelProto m = model(9, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Clip", "clip", List.of("x"), List.of("y"), floatAttr("max", 6f))));
        Node n = load(m).nodes().getFirst();
        assertNull(n.input(1));
        assertEquals(6.0, n.input(2).constantValue().getDouble(0));
    }

    @Test void squeezeAndReduceAxesAttributesBecomeInputs() {
        ModelProto m = model(11, graph("g").addInput(tensor("x", FLOAT, 2, 1, 3)).addOutput(tensor("y", FLOAT, 2, 1))
                .addNode(node("Squeeze", "sq", List.of("x"), List.of("s"), intsAttr("axes", 1)))
                .addNode(node("ReduceSum", "sum", List.of("s"), List.of("y"), intsAttr("axes", 1), intAttr("keepdims", 1))));
        Graph g = load(m);
        assertArrayEquals(new long[] {1}, g.nodes().get(0).input(1).constantValue().longs());
        assertArrayEquals(new long[] {1}, g.nodes().get(1).input(1).constantValue().longs());
        assertEquals(Shape.of(2, 1), g.outputs().getFirst().type().shape());
        assertArrayEquals(new float[] {6, 15}, run(g, Tensor.ofFloats(Shape.of(2, 1, 3), 1, 2, 3, 4, 5, 6)).floats());
    }

    @Test void splitWithoutSizesGetsNumOutputsBeforeOpset18() {
        ModelProto m = model(13, graph("g").addInput(tensor("x", FLOAT, 4)).addOutput(tensor("a", FLOAT, 2)).addOutput(tensor("b", FLOAT, 2))
                .addNode(node("Split", "split", List.of("x"), List.of("a", "b"), intAttr("axis", 0))));
        Node n = load(m).nodes().getFirst();
        assertEquals(2L, n.attrs().getInt("num_outputs", -1));
    }

    @Test void splitSizesAttributeOfOpset11BecomesAnInput() {
        ModelProto m = model(11, graph("g").addInput(tensor("x", FLOAT, 5)).addOutput(tensor("a", FLOAT, 2)).addOutput(tensor("b", FLOAT, 3))
                .addNode(node("Split", "split", List.of("x"), List.of("a", "b"), intAttr("axis", 0), intsAttr("split", 2, 3))));
        Graph g = load(m);
        assertArrayEquals(new long[] {2, 3}, g.nodes().getFirst().input(1).constantValue().longs());
        assertEquals(Shape.of(3), g.outputs().get(1).type().shape());
    }

    @Test void sliceAttributesOfOpset9BecomeInputs() {
        ModelProto m = model(9, graph("g").addInput(tensor("x", FLOAT, 5)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Slice", "slice", List.of("x"), List.of("y"), intsAttr("starts", 1), intsAttr("ends", 3), intsAttr("axes", 0))));
        Graph g = load(m);
        assertEquals(4, g.nodes().getFirst().numInputs());
        assertArrayEquals(new float[] {20, 30}, run(g, Tensor.ofFloats(Shape.of(5), 10, 20, 30, 40, 50)).floats());
    }

    @Test void softmaxOfOpset11CoercesTo2dAtItsAxis() {
        // opset < 13: axis 1 of a [2,2,2] input normalizes over the last two dims together
        ModelProto m = model(11, graph("g").addInput(tensor("x", FLOAT, 2, 2, 2)).addOutput(tensor("y", FLOAT, 2, 2, 2))
                .addNode(node("Softmax", "sm", List.of("x"), List.of("y"))));
        Graph g = load(m);
        assertEquals(List.of("Flatten", "Softmax", "Reshape"), g.nodes().stream().map(Node::opName).toList());
        float[] y = run(g, Tensor.ofFloats(Shape.of(2, 2, 2), 0, 0, 0, 0, 1, 2, 3, 4)).floats();
        for (int i = 0; i < 4; i++) assertEquals(0.25f, y[i], 1e-6);
        double z = Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(4);
        assertEquals(Math.exp(4) / z, y[7], 1e-6);
        assertEquals(Shape.of(2, 2, 2), g.outputs().getFirst().type().shape());
    }

    @Test void softmaxOfOpset11OnTheLastAxisStaysOneNode() {
        ModelProto m = model(11, graph("g").addInput(tensor("x", FLOAT, 3, 4)).addOutput(tensor("y", FLOAT, 3, 4))
                .addNode(node("Softmax", "sm", List.of("x"), List.of("y"))));
        Graph g = load(m);
        assertEquals(1, g.nodes().size());
        assertEquals(1L, g.nodes().getFirst().attrs().getInt("axis", -5));
    }

    @Test void dropoutRatioAttributeBecomesAnInput() {
        ModelProto m = model(10, graph("g").addInput(tensor("x", FLOAT, 3)).addOutput(tensor("y", FLOAT, 3))
                .addNode(node("Dropout", "drop", List.of("x"), List.of("y"), floatAttr("ratio", 0.3f))));
        Graph g = load(m);
        Node n = g.nodes().getFirst();
        assertEquals(0.3f, n.input(1).constantValue().getFloat(0));
        assertArrayEquals(new float[] {1, 2, 3}, run(g, Tensor.ofFloats(Shape.of(3), 1, 2, 3)).floats());
    }

    @Test void upsampleBecomesResizeOrSaysWhichOpIsMissing() {
        ModelProto m = model(9, graph("g").addInput(tensor("x", FLOAT, 1, 1, 2, 2)).addOutput(tensor("y", FLOAT, 1, 1, 4, 4))
                .addInitializer(OnnxTensors.toProto(Tensor.ofFloats(Shape.of(4), 1, 1, 2, 2), "scales"))
                .addNode(node("Upsample", "up", List.of("x", "scales"), List.of("y"), stringAttr("mode", "nearest"))));
        if (OnnxModels.registry().find("", "Resize").isEmpty()) {
            OnnxImportException e = fails(m);
            assertEquals(Kind.UNKNOWN_OP, e.kind());
            assertTrue(e.getMessage().contains("node 'up' (Upsample): needs op Resize"), e.getMessage());
            return;
        }
        Graph g = load(m);
        Node n = g.nodes().getFirst();
        assertEquals("Resize", n.opName());
        assertEquals("asymmetric", n.attrs().getString("coordinate_transformation_mode", ""));
        assertArrayEquals(new float[] {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, run(g, Tensor.ofFloats(Shape.of(1, 1, 2, 2), 1, 2, 3, 4)).floats());
    }

    // ---- broken models ------------------------------------------------------------------------

    @Test void truncatedBytesAreNotAModel() {
        byte[] good = scaleModel().toByteArray();
        OnnxImportException e = fails(Arrays.copyOf(good, good.length - 7));
        assertEquals(Kind.INVALID_MODEL, e.kind());
        assertTrue(e.getMessage().startsWith("broken.onnx: not a valid ONNX model: "), e.getMessage());
    }

    @Test void randomBytesAreNotAModel() {
        byte[] junk = new byte[64];
        new java.util.Random(1).nextBytes(junk);
        junk[0] = (byte) 0xFF;
        assertTrue(fails(junk).getMessage().startsWith("broken.onnx: not a valid ONNX model"));
    }

    @Test void aModelWithoutAGraphIsRefused() {
        OnnxImportException e = fails(ModelProto.newBuilder().setIrVersion(8).build().toByteArray());
        assertEquals("broken.onnx: the model has no graph", e.getMessage());
    }

    @Test void unknownOpNamesTheNodeTheDomainAndThePluginRoute() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("MyOp", "foo", List.of("x"), List.of("y")).setDomain("com.acme")));
        OnnxImportException e = fails(m);
        assertEquals(Kind.UNKNOWN_OP, e.kind());
        assertEquals("com.acme.MyOp", e.detail());
        assertTrue(e.getMessage().startsWith("m.onnx: node 'foo' (MyOp, domain com.acme): unknown op; a plugin can supply it through the OpProvider SPI"), e.getMessage());
    }

    /** An op whose output shape depends on the data (a detector's NMS exports through NonZero) says why no static engine holds it. */
    @Test void aDataDependentShapeOpSaysWhyAndWhatToDo() {
        ModelProto m = model(17, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", INT64, 2))
                .addNode(node("NonZero", "/net/NonZero", List.of("x"), List.of("y"))));
        OnnxImportException e = fails(m);
        assertEquals(Kind.UNKNOWN_OP, e.kind());
        assertTrue(e.getMessage().startsWith("m.onnx: node '/net/NonZero' (NonZero): unknown op; NonZero's output shape depends on its input's values, and Tessel's engines have static shapes: "
                + "export the model with a fixed-shape form instead (a detector's NMS as TensorRT's EfficientNMS_TRT"), e.getMessage());
        assertTrue(e.getMessage().contains("or without this step (a detector without its NMS"), e.getMessage());
    }

    @Test void undefinedInputIsNamed() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Add", "add", List.of("x", "ghost"), List.of("y"))));
        OnnxImportException e = fails(m);
        assertEquals("m.onnx: node 'add' (Add): input 'ghost' is not defined (not a graph input, initializer or output of any node)", e.getMessage());
    }

    @Test void cycleIsReportedWithItsNodes() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Add", "a", List.of("x", "c"), List.of("b")))
                .addNode(node("Scale", "s", List.of("b"), List.of("c")).setDomain("test"))
                .addNode(node("Scale", "out", List.of("b"), List.of("y")).setDomain("test")));
        OnnxImportException e = fails(m);
        assertEquals(Kind.INVALID_MODEL, e.kind());
        assertTrue(e.getMessage().startsWith("m.onnx: the graph has a cycle: "), e.getMessage());
        assertTrue(e.getMessage().contains("node 'a' (Add)") && e.getMessage().contains("node 's' (Scale, domain test)"), e.getMessage());
    }

    @Test void valueDefinedTwiceIsRefused() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Scale", "a", List.of("x"), List.of("y")).setDomain("test"))
                .addNode(node("Scale", "b", List.of("x"), List.of("y")).setDomain("test")));
        assertTrue(fails(m).getMessage().contains("value 'y' is defined twice: by node 'a' (Scale, domain test) and by node 'b' (Scale, domain test)"));
    }

    @Test void attributeOfTheWrongTypeIsNamed() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Scale", "s", List.of("x"), List.of("y"), stringAttr("alpha", "two")).setDomain("test")));
        OnnxImportException e = fails(m);
        assertEquals("m.onnx: node 's' (Scale, domain test): attribute 'alpha' must be FLOAT, found STRING", e.getMessage());
    }

    @Test void unknownAttributeIsNamed() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Scale", "s", List.of("x"), List.of("y"), intAttr("beta", 1)).setDomain("test")));
        assertTrue(fails(m).getMessage().contains("node 's' (Scale, domain test): unknown attribute 'beta' (test.Scale has [alpha])"));
    }

    @Test void opTypeErrorsCarryTheOpsOwnMessage() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", INT64, 2)).addOutput(tensor("y", INT64, 2))
                .addNode(node("Scale", "s", List.of("x"), List.of("y")).setDomain("test")));
        OnnxImportException e = fails(m);
        assertEquals(Kind.OP_ERROR, e.kind());
        assertEquals("m.onnx: node 's' (test.Scale): input X must be floating, got i64", e.getMessage());
    }

    @Test void absurdDimensionsAreRefused() {
        ModelProto neg = model(21, graph("g").addInput(tensor("x", FLOAT, 2, -5)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Scale", "s", List.of("x"), List.of("y")).setDomain("test")));
        assertTrue(fails(neg).getMessage().contains("graph input 'x': dimension 1 is -5"), fails(neg).getMessage());
        ModelProto huge = model(21, graph("g").addInput(tensor("x", FLOAT, 100000, 100000)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Scale", "s", List.of("x"), List.of("y")).setDomain("test")));
        assertTrue(fails(huge).getMessage().contains("graph input 'x': shape [100000, 100000] has more than"), fails(huge).getMessage());
        TensorProto bigInit = TensorProto.newBuilder().setName("w").setDataType(1).addDims(1L << 40).build();
        ModelProto init = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2)).addInitializer(bigInit)
                .addNode(node("Scale", "s", List.of("x"), List.of("y")).setDomain("test")));
        assertTrue(fails(init).getMessage().contains("initializer 'w': dimension 0 is 1099511627776"), fails(init).getMessage());
    }

    @Test void initializerDataOfTheWrongLengthIsRefused() {
        TensorProto w = TensorProto.newBuilder().setName("w").setDataType(1).addDims(3).setRawData(ByteString.copyFrom(new byte[8])).build();
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2)).addInitializer(w)
                .addNode(node("Scale", "s", List.of("x"), List.of("y")).setDomain("test")));
        assertEquals("m.onnx: initializer 'w': raw_data has 8 bytes, shape [3] of f32 needs 12", fails(m).getMessage());
    }

    @Test void unsupportedElementTypesAreNamed() {
        ModelProto m = model(21, graph("g").addInput(tensor("x", OnnxModels.UINT16, 2)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Scale", "s", List.of("x"), List.of("y")).setDomain("test")));
        OnnxImportException e = fails(m);
        assertEquals(Kind.UNSUPPORTED_DTYPE, e.kind());
        assertEquals("UINT16", e.detail());
        assertTrue(e.getMessage().startsWith("m.onnx: graph input 'x': element type UINT16 is not supported"), e.getMessage());
    }

    @Test void sparseInitializersAreRefused() {
        GraphProto.Builder g = graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addSparseInitializer(SparseTensorStub.newBuilder().setValues(TensorProto.newBuilder().setName("sw")))
                .addNode(node("Scale", "s", List.of("x"), List.of("y")).setDomain("test"));
        OnnxImportException e = fails(model(21, g));
        assertEquals(Kind.UNSUPPORTED_FEATURE, e.kind());
        assertTrue(e.getMessage().contains("sparse initializer(s) ('sw'...)"), e.getMessage());
    }

    @Test void externalDataIsRefusedWithAHint() {
        TensorProto w = TensorProto.newBuilder().setName("w").setDataType(1).addDims(2).setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("weights.bin")).build();
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2)).addInitializer(w)
                .addNode(node("Scale", "s", List.of("x"), List.of("y")).setDomain("test")));
        OnnxImportException e = fails(m);
        assertEquals(Kind.UNSUPPORTED_FEATURE, e.kind());
        assertTrue(e.getMessage().contains("initializer 'w': data is stored outside the model (external data file 'weights.bin')"), e.getMessage());
    }

    @Test void subgraphAttributesAreRefused() {
        AttributeProto body = AttributeProto.newBuilder().setName("then_branch").setType(AttributeProto.AttributeType.GRAPH).setG(GraphProto.newBuilder()).build();
        ModelProto m = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("y", FLOAT, 2))
                .addNode(node("Scale", "s", List.of("x"), List.of("y"), body).setDomain("test")));
        OnnxImportException e = fails(m);
        assertEquals(Kind.UNSUPPORTED_FEATURE, e.kind());
        assertTrue(e.getMessage().contains("node 's' (Scale, domain test): attribute 'then_branch' is a subgraph; control flow (If, Loop, Scan) is not supported"), e.getMessage());
    }

    @Test void missingOutputAndMissingOpsetAreNamed() {
        ModelProto noOut = model(21, graph("g").addInput(tensor("x", FLOAT, 2)).addOutput(tensor("nothing", FLOAT, 2))
                .addNode(node("Scale", "s", List.of("x"), List.of("y")).setDomain("test")));
        assertEquals("m.onnx: graph output 'nothing' is not produced by any node, input or initializer", fails(noOut).getMessage());
        ModelProto noOpset = ModelProto.newBuilder().setIrVersion(8).setGraph(graph("g").addInput(tensor("x", FLOAT, 2))
                .addOutput(tensor("y", FLOAT, 2)).addNode(node("Relu", "r", List.of("x"), List.of("y")))).build();
        assertEquals("m.onnx: the model has no opset_import entry for the default ONNX domain", fails(noOpset).getMessage());
    }

    @Test void bindingAnUnknownInputIsRefused() {
        OnnxImportException e = assertThrows(OnnxImportException.class,
                () -> load(scaleModel(), OnnxImporter.Options.defaults().withConstantInputs(Map.of("nope", Tensor.scalar(DType.F32, 1)))));
        assertEquals("m.onnx: Options bind input 'nope', but the graph has no input of that name", e.getMessage());
    }
}

package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.ir.onnx.OnnxModels.FLOAT;
import static org.tessel.ir.onnx.OnnxModels.floatAttr;
import static org.tessel.ir.onnx.OnnxModels.graph;
import static org.tessel.ir.onnx.OnnxModels.intAttr;
import static org.tessel.ir.onnx.OnnxModels.node;
import static org.tessel.ir.onnx.OnnxModels.stringAttr;
import static org.tessel.ir.onnx.OnnxModels.tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.OperatorSetIdProto;
import org.tessel.ir.ops.EfficientNmsOp;

/**
 * EfficientNMS_TRT through the importer (domain TRT, and the default domain some exporters write), and ONNX's
 * NonMaxSuppression node cases as an independent oracle of its selection.
 */
class EfficientNmsImportTest {
    private static final int INT32 = 6;

    private static ModelProto nmsModel(String domain) {
        var g = graph("det").addInput(tensor("boxes", FLOAT, 1, 3, 4)).addInput(tensor("scores", FLOAT, 1, 3, 2))
                .addOutput(tensor("num", INT32, 1, 1)).addOutput(tensor("det_boxes", FLOAT, 1, 2, 4))
                .addOutput(tensor("det_scores", FLOAT, 1, 2)).addOutput(tensor("det_classes", INT32, 1, 2))
                .addNode(node("EfficientNMS_TRT", "/nms", List.of("boxes", "scores"), List.of("num", "det_boxes", "det_scores", "det_classes"),
                        floatAttr("score_threshold", 0.25f), floatAttr("iou_threshold", 0.45f), intAttr("max_output_boxes", 2), intAttr("background_class", -1),
                        intAttr("score_activation", 0), intAttr("class_agnostic", 0), intAttr("box_coding", 0), stringAttr("plugin_version", "1")).setDomain(domain));
        return ModelProto.newBuilder().setIrVersion(8).addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("TRT").setVersion(1)).setGraph(g).build();
    }

    @Test void importsFromTheTrtDomainAndTheDefaultOne() {
        for (String domain : List.of("TRT", "")) {
            Graph g = OnnxImporter.importModel(nmsModel(domain).toByteArray(), "det.onnx", OnnxImporter.Options.defaults());
            Node n = g.nodes().getFirst();
            assertEquals("TRT.EfficientNMS_TRT", n.op().qualifiedName(), "domain '" + domain + "'");
            assertEquals(DType.I32, n.output(0).type().dtype());
            Tensor boxes = Tensor.ofFloats(Shape.of(1, 3, 4), 0, 0, 4, 4, 0, 0, 4, 5, 9, 9, 10, 10);
            Tensor scores = Tensor.ofFloats(Shape.of(1, 3, 2), 0.9f, 0.1f, 0.8f, 0.3f, 0.2f, 0.7f);
            Map<String, Tensor> out = new ReferenceInterpreter().run(g, Map.of("boxes", boxes, "scores", scores));
            assertEquals(2, out.get("num").getLong(0), "box 1 of class 0 is suppressed by box 0 (IoU .8); class 1's box 2 (.7) and box 1 (.3) survive, M = 2");
            assertEquals(List.of(0L, 1L), List.of(out.get("det_classes").getLong(0), out.get("det_classes").getLong(1)));
        }
    }

    @Test void theAnchorsInputIsRefusedNamingTheNode() {
        var g = graph("det").addInput(tensor("boxes", FLOAT, 1, 3, 4)).addInput(tensor("scores", FLOAT, 1, 3, 2)).addInput(tensor("anchors", FLOAT, 1, 3, 4))
                .addOutput(tensor("num", INT32, 1, 1))
                .addNode(node("EfficientNMS_TRT", "/nms", List.of("boxes", "scores", "anchors"), List.of("num", "b", "s", "c")).setDomain("TRT"));
        ModelProto m = ModelProto.newBuilder().setIrVersion(8).addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).setGraph(g).build();
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> OnnxImporter.importModel(m.toByteArray(), "det.onnx", OnnxImporter.Options.defaults()));
        assertTrue(e.getMessage().contains("'/nms'") && e.getMessage().contains("input anchors") && e.getMessage().contains("decode the boxes in the graph"), e.getMessage());
    }

    // ---- ONNX's NonMaxSuppression cases as an oracle -----------------------------------------------

    /**
     * Each ONNX case (boxes [B, N, 4], scores [B, C, N], max_output_boxes_per_class, iou_threshold, score_threshold; selected
     * [K, 3] of (batch, class, box)) against EfficientNMS's reference with M large enough never to stop the walk: per class
     * the greedy walks are independent, so ONNX's selection for a class is the first max_output_boxes_per_class boxes that
     * EfficientNMS keeps of that class. ONNX's text removes boxes whose score is "less than score_threshold" where EfficientNMS
     * keeps those strictly above it, so a case with a score exactly at the threshold would be ambiguous: there is none.
     */
    @Test void onnxNonMaxSuppressionCasesSelectWhatEfficientNmsKeeps() throws IOException {
        Path root = SharedData.require("onnx-node");
        List<Path> cases;
        try (Stream<Path> s = Files.list(root)) {
            cases = s.filter(p -> p.getFileName().toString().startsWith("test_nonmaxsuppression_")).sorted().toList();
        }
        assertEquals(10, cases.size(), "ONNX's 10 NonMaxSuppression cases under " + root);
        for (Path c : cases) checkCase(c);
    }

    private static void checkCase(Path dir) throws IOException {
        String name = dir.getFileName().toString();
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(dir.resolve("model.onnx")));
        NodeProto nms = m.getGraph().getNode(0);
        assertEquals("NonMaxSuppression", nms.getOpType(), name);
        boolean centerSize = false;
        for (AttributeProto a : nms.getAttributeList()) if (a.getName().equals("center_point_box")) centerSize = a.getI() == 1;
        Path data = dir.resolve("test_data_set_0");
        List<Tensor> in = new ArrayList<>();
        for (int i = 0; Files.exists(data.resolve("input_" + i + ".pb")); i++) in.add(OnnxTensors.readTensor(data.resolve("input_" + i + ".pb")));
        Tensor boxes = in.get(0), onnxScores = in.get(1);
        long perClass = in.size() > 2 ? in.get(2).getLong(0) : 0;
        float iou = in.size() > 3 ? in.get(3).getFloat(0) : 0f;
        float thr = in.size() > 4 ? in.get(4).getFloat(0) : Float.NEGATIVE_INFINITY;
        int b = onnxScores.shape().dim(0), classes = onnxScores.shape().dim(1), n = onnxScores.shape().dim(2);
        Tensor scores = Tensor.zeros(DType.F32, Shape.of(b, n, classes));
        for (int i = 0; i < b; i++)
            for (int c = 0; c < classes; c++)
                for (int j = 0; j < n; j++) {
                    float v = onnxScores.getFloat((i * classes + c) * n + j);
                    assertTrue(v != thr, name + ": a score at the threshold exactly would make the comparison ambiguous");
                    scores.setDouble((i * n + j) * classes + c, v);
                }
        Attributes a = Attributes.builder().put("score_threshold", thr).put("iou_threshold", iou).put("max_output_boxes", (long) n * classes)
                .put("box_coding", centerSize ? 1L : 0L).build();
        EfficientNmsOp.Params p = EfficientNmsOp.params(a, classes);
        Set<String> want = new TreeSet<>(), got = new TreeSet<>();
        Tensor sel = OnnxTensors.readTensor(data.resolve("output_0.pb"));
        for (int k = 0; k < sel.shape().dim(0); k++) want.add(sel.getLong(3 * k) + "," + sel.getLong(3 * k + 1) + "," + sel.getLong(3 * k + 2));
        for (int i = 0; i < b; i++) {
            int[] taken = new int[classes];
            for (int f : EfficientNmsOp.keep(boxes, scores, i, p))
                if (taken[f % classes]++ < perClass) got.add(i + "," + f % classes + "," + f / classes);
        }
        assertEquals(want, got, name + ": (batch, class, box) selected by ONNX vs kept by EfficientNMS");
    }
}

package org.tessel.ir.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;
import org.tessel.ir.ops.EfficientNmsOp;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.onnx.OnnxImporter;

/**
 * The deployment families (EfficientNet, ConvNeXt, U-Net, CRNN, SSDLite): full sizes against the
 * published or analytically counted figures, the tiny variants run on the reference interpreter
 * with outputs that mean what they should (probabilities, per-pixel logits, per-column log
 * probabilities, decoded boxes), their defining structure, and an ONNX round trip.
 */
class FamiliesTest {
    static final List<String> TINY = List.of("efficientnet-b0-tiny", "convnext-tiny-tiny", "unet-tiny", "unet-bilinear-tiny", "crnn-tiny", "crnn-lstm-tiny", "ssdlite-tiny");

    private static void assertNear(String what, double expected, double actual, double tolerance) {
        double rel = Math.abs(actual - expected) / expected;
        assertTrue(rel <= tolerance, String.format("%s: %.6g, reference %.6g (%.2f%% off, tolerance %.1f%%)", what, actual, expected, 100 * rel, 100 * tolerance));
    }

    private static ModelStats checkReference(String model, double paramTolerance, double macTolerance) {
        ModelStats s = ModelStats.of(Zoo.build(model));
        ModelCard.Reference ref = Zoo.describe(model).reference();
        assertNear(model + " parameters", ref.parameters(), s.parameters(), paramTolerance);
        assertNear(model + " MACs", ref.macs().orElseThrow(), s.macs(), macTolerance);
        return s;
    }

    /** torchvision's own counts: exact parameters, MACs within torchvision's 2-digit rounding. */
    @Test void efficientNetAndConvNeXtHaveTorchvisionsSizes() {
        assertEquals(5_288_548, checkReference("efficientnet-b0", 0, 0.005).parameters());
        assertEquals(28_589_128, checkReference("convnext-tiny", 0, 0.005).parameters());
    }

    /** The paper rounds to 4.3 M and 0.8 B; the anchors (11.5 K constants) count as weights here. */
    @Test void ssdLiteIsNearThePapersSize() { checkReference("ssdlite", 0.06, 0.07); }

    @Test void uNetAndCrnnMatchTheirLayerTablesCountedByHand() {
        for (boolean bilinear : new boolean[] {false, true}) {
            String model = bilinear ? "unet-bilinear" : "unet";
            long[] want = unetCounts(bilinear, 64, 256, 2);
            ModelStats s = checkReference(model, 0, 0);
            assertEquals(want[0], s.parameters(), model);
            assertEquals(want[1], s.macs(), model);
        }
        long[] crnn = crnnCounts(1, 256, 2, 1024, 24, 37);
        ModelStats s = checkReference("crnn", 0, 0);
        assertEquals(crnn[0], s.parameters());
        assertEquals(crnn[1], s.macs());
        // the cost follows the width; the weights do not
        ModelStats wide = ModelStats.of(Zoo.build("crnn", ZooOptions.defaults().withSequenceLength(49)));
        assertEquals(crnn[0], wide.parameters());
        assertEquals(crnnCounts(1, 256, 2, 1024, 49, 37)[1], wide.macs());
    }

    /** milesial's UNet: {parameters (BN's running statistics excluded), multiply-adds}. */
    static long[] unetCounts(boolean bilinear, int base, int size, int classes) {
        long[] pm = new long[2];
        int factor = bilinear ? 2 : 1, cin = base;
        doubleConv(pm, 3, base, base, size);
        for (int l = 1; l <= 4; l++) {
            int out = (base << l) / (l == 4 ? factor : 1);
            doubleConv(pm, cin, out, out, size >> l);
            cin = out;
        }
        for (int step = 1; step <= 4; step++) {
            int in = base << (5 - step), h = size >> (4 - step);
            if (bilinear) {
                int out = (in / 2) / (step < 4 ? 2 : 1);
                doubleConv(pm, in, in / 2, out, h);
                cin = out;
            } else {
                pm[0] += (long) cin * (in / 2) * 4 + in / 2;          // ConvTranspose 2x2 with bias
                pm[1] += (long) (h / 2) * (h / 2) * cin * (in / 2) * 4; // every input element meets C_out x 4 taps
                doubleConv(pm, in, in / 2, in / 2, h);
                cin = in / 2;
            }
        }
        pm[0] += (long) base * classes + classes;
        pm[1] += (long) size * size * base * classes;
        return pm;
    }

    private static void doubleConv(long[] pm, int in, int mid, int out, int h) {
        pm[0] += 9L * in * mid + 2L * mid + 9L * mid * out + 2L * out;
        pm[1] += (long) h * h * 9 * ((long) in * mid + (long) mid * out);
    }

    /** The CRNN: seven convolutions (BN after 3, 5, 7), input projection, pre-LN encoder, final LayerNorm, classifier. */
    static long[] crnnCounts(int d, int hidden, int layers, int ffn, int columns, int classes) {
        int[][] convs = {{64, 3, 1, 0}, {128, 3, 1, 0}, {256, 3, 1, 1}, {256, 3, 1, 0}, {512, 3, 1, 1}, {512, 3, 1, 0}, {512, 2, 0, 1}};
        int[] poolH = {2, 2, 1, 2, 1, 2, 1}, poolW = {2, 2, 1, 1, 1, 1, 1};
        long p = 0, m = 0;
        int h = 32, w = 4 * (columns + 1), cin = 1;
        for (int i = 0; i < convs.length; i++) {
            int c = convs[i][0] / d, k = convs[i][1], pad = convs[i][2];
            h = h + 2 * pad - k + 1;
            w = w + 2 * pad - k + 1;
            p += (long) cin * c * k * k + (convs[i][3] == 1 ? 2L * c : c);
            m += (long) h * w * cin * c * k * k;
            cin = c;
            h /= poolH[i];
            w /= poolW[i];
        }
        assertEquals(1, h);
        assertEquals(columns, w);
        long t = columns;
        p += (long) cin * hidden + hidden;
        m += t * cin * hidden;
        p += layers * (4L * ((long) hidden * hidden + hidden) + 2L * hidden * ffn + ffn + hidden + 4L * hidden) + 2L * hidden;
        m += layers * (t * (4L * hidden * hidden + 2L * hidden * ffn) + 2 * t * t * hidden);
        p += (long) hidden * classes + classes;
        m += t * hidden * classes;
        return new long[] {p, m};
    }

    @ParameterizedTest
    @ValueSource(strings = {"efficientnet-b0-tiny", "convnext-tiny-tiny"})
    void classifiersGiveProbabilities(String model) {
        Tensor p = TinyModelRunTest.run(model, ZooOptions.defaults().withBatch(2), 1).get("probabilities");
        assertEquals(Shape.of(2, 10), p.shape());
        double max = 0;
        for (int b = 0; b < 2; b++) {
            double sum = 0;
            for (int k = 0; k < 10; k++) { sum += p.getDouble(b * 10 + k); max = Math.max(max, p.getDouble(b * 10 + k)); }
            assertEquals(1.0, sum, 1e-4, model + " row " + b);
        }
        assertTrue(max < 0.999, model + ": saturated softmax " + max);
    }

    @ParameterizedTest
    @ValueSource(strings = {"unet-tiny", "unet-bilinear-tiny"})
    void uNetGivesPerPixelLogitsThatDependOnTheImage(String model) {
        Map<String, Tensor> a = TinyModelRunTest.run(model, ZooOptions.defaults(), 1), b = TinyModelRunTest.run(model, ZooOptions.defaults(), 2);
        Tensor la = a.get("logits"), lb = b.get("logits");
        assertEquals(Shape.of(1, 2, 32, 32), la.shape());
        assertAllFinite(model, la);
        assertTrue(!la.dataEquals(lb), model + ": two images, the same logits");
        // not constant over the image: the decoder upsampled real spatial detail
        double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
        for (int i = 0; i < 32 * 32; i++) { lo = Math.min(lo, la.getDouble(i)); hi = Math.max(hi, la.getDouble(i)); }
        assertTrue(hi - lo > 1e-3, model + ": flat logits " + lo + ".." + hi);
    }

    @Test void uNetUpsamplesByConvTransposeOrBilinearResizeAndConcatenatesSkips() {
        Graph t = Zoo.build("unet-tiny");
        assertEquals(4, t.opHistogram().get("ConvTranspose"));
        assertEquals(4, t.opHistogram().get("Concat"));
        assertEquals(null, t.opHistogram().get("Resize"));
        Graph r = Zoo.build("unet-bilinear-tiny");
        assertEquals(4, r.opHistogram().get("Resize"));
        assertEquals(null, r.opHistogram().get("ConvTranspose"));
        Node up = node(r, "up1.up");
        assertEquals("align_corners", up.attrs().getString("coordinate_transformation_mode", ""));
        assertEquals("linear", up.attrs().getString("mode", ""));
        Node cat = node(t, "up4.concat");
        assertEquals("inc.double_conv.5", cat.input(0).producer().name(), "the first level's features come first, as torch.cat([x2, x1])");
        assertEquals("up4.up", cat.input(1).producer().name());
    }

    @Test void crnnGivesPerColumnLogProbabilitiesForAnyWidth() {
        for (int columns : new int[] {7, 12}) {
            Graph g = Zoo.build("crnn-tiny", ZooOptions.defaults().withSequenceLength(columns));
            assertEquals(Shape.of(1, 1, 32, 4 * (columns + 1)), g.inputs().get(0).type().shape());
            Tensor lp = new ReferenceInterpreter().run(g, TinyModelRunTest.inputs(g, 3)).get("log_probs");
            assertEquals(Shape.of(1, columns, 37), lp.shape());
            for (int c = 0; c < columns; c++) {
                double sum = 0;
                for (int k = 0; k < 37; k++) sum += Math.exp(lp.getDouble(c * 37 + k));
                assertEquals(1.0, sum, 1e-4, "column " + c + " at " + columns + " columns");
            }
        }
        // the width is a dimension of one model: the same seed gives the same weights at any width
        Graph a = Zoo.build("crnn-tiny", ZooOptions.defaults().withSequenceLength(7)), b = Zoo.build("crnn-tiny", ZooOptions.defaults().withSequenceLength(12));
        for (String w : List.of("cnn.conv0.weight", "cnn.batchnorm6.running_var", "encoder.layers.0.self_attn.q_proj.weight", "classifier.weight"))
            assertTrue(a.value(w).constantValue().dataEquals(b.value(w).constantValue()), w);
        assertEquals(2, Zoo.build("crnn-tiny", ZooOptions.defaults().withLayers(2)).opHistogram().get("Softmax"));
    }

    /** The paper-faithful CRNN: the conv stack's counts plus two bidirectional LSTMs and their linear layers, by hand. */
    static long[] crnnLstmCounts(int d, int hidden, int layers, int columns, int classes) {
        // the conv stack alone: crnnCounts with no encoder layer, less its input projection, final LayerNorm and classifier
        long[] cnn = crnnCounts(d, hidden, 0, 0, columns, classes);
        int c = 512 / d;
        long t = columns, p = cnn[0] - ((long) c * hidden + hidden) - 2L * hidden - ((long) hidden * classes + classes);
        long m = cnn[1] - t * c * hidden - t * hidden * classes;
        int in = c;
        for (int i = 0; i < layers; i++) {
            int out = i == layers - 1 ? classes : hidden;
            p += 2 * (4L * hidden * (in + hidden) + 8L * hidden) + 2L * hidden * out + out;   // W, R, B per direction; linear
            m += t * 2 * 4L * hidden * (in + hidden) + t * 2L * hidden * out;
            in = hidden;
        }
        return new long[] {p, m};
    }

    @Test void crnnLstmIsThePapersBidirectionalLstmModel() {
        long[] want = crnnLstmCounts(1, 256, 2, 24, 37);
        ModelStats s = checkReference("crnn-lstm", 0, 0);
        assertEquals(want[0], s.parameters());
        assertEquals(want[1], s.macs());
        assertEquals(8_330_021, s.parameters(), "the paper's 8.3 M");
        assertEquals(2, s.opHistogram().get("LSTM"));
        assertEquals(crnnLstmCounts(1, 256, 2, 49, 37)[1], ModelStats.of(Zoo.build("crnn-lstm", ZooOptions.defaults().withSequenceLength(49))).macs());
        Graph g = Zoo.build("crnn-lstm-tiny", ZooOptions.defaults().withSequenceLength(5).withBatch(2));
        Node lstm = node(g, "rnn.0.rnn");
        assertEquals("bidirectional", lstm.attrs().getString("direction", ""));
        assertEquals(Shape.of(5, 2, 2, 32), lstm.output(0).type().shape(), "Y [T, directions, N, hidden]: sequence-first, as PyTorch exports it");
        Tensor lp = new ReferenceInterpreter().run(g, TinyModelRunTest.inputs(g, 3)).get("log_probs");
        assertEquals(Shape.of(2, 5, 37), lp.shape());
        for (int r = 0; r < 10; r++) {
            double sum = 0;
            for (int k = 0; k < 37; k++) sum += Math.exp(lp.getDouble(r * 37 + k));
            assertEquals(1.0, sum, 1e-4, "row " + r);
        }
        assertEquals(3, Zoo.build("crnn-lstm-tiny", ZooOptions.defaults().withLayers(3)).opHistogram().get("LSTM"));
    }

    @Test void efficientNetHasSqueezeExcitationSiluAndFiveByFiveDepthwise() {
        Graph g = Zoo.build("efficientnet-b0");
        assertEquals(16 + 1, g.opHistogram().get("GlobalAveragePool"), "one squeeze per MBConv block plus the classifier's pool");
        assertEquals(2 + 15 + 16 + 16 + 16, g.opHistogram().get("Sigmoid"), "SiLU after stem, head, each expand (15) and depthwise (16), SE's own SiLU (16) and gate (16)");
        Node dw5 = node(g, "features.3.0.depthwise.conv");
        assertEquals(Shape.of(144, 1, 5, 5), dw5.input(1).type().shape());
        assertEquals(144, dw5.attrs().getInt("group", 1));
        Node gate = node(g, "features.3.0.se.scale");
        assertEquals("Mul", gate.opName());
        assertEquals(Shape.of(1, 144, 1, 1), gate.input(1).type().shape());
        assertEquals(Shape.of(6, 144, 1, 1), g.value("features.3.0.se.fc1.weight").type().shape(), "squeeze to a quarter of the block's 24 input channels");
    }

    @Test void convNeXtNormalizesChannelsLastAfterADepthwiseSevenBySeven() {
        Graph g = Zoo.build("convnext-tiny-tiny");
        Node dw = node(g, "features.5.0.block.0");
        assertEquals(Shape.of(32, 1, 7, 7), dw.input(1).type().shape());
        assertEquals(32, dw.attrs().getInt("group", 1));
        Node ln = node(g, "features.5.0.block.2");
        assertEquals("LayerNormalization", ln.opName());
        assertEquals(Shape.of(1, 2, 2, 32), ln.input(0).type().shape(), "NHWC: channels last");
        assertEquals("Transpose", ln.input(0).producer().opName());
        assertEquals("Gelu", node(g, "features.5.0.block.4").opName());
        assertEquals("MatMul", node(g, "features.5.0.block.3").opName());
        assertEquals(Shape.of(32, 1, 1), g.value("features.5.0.layer_scale").type().shape());
        assertEquals(4 + 1 + 3 + 1, g.opHistogram().get("LayerNormalization"), "one per block, stem, three downsamplings, head");
    }

    /** The decoded boxes are the box coder applied to the predicted offsets and the anchors, recomputed here. */
    @Test void ssdLiteDecodesItsOffsetsAgainstItsAnchors() {
        Graph g = Zoo.build("ssdlite-tiny");
        Map<String, Tensor> seen = new HashMap<>();
        Map<String, Tensor> out = new ReferenceInterpreter().withListener((n, outs, ns) -> {
            if (n.name().equals("postprocess.box_offsets")) seen.put("offsets", outs.get(0));
        }).run(g, TinyModelRunTest.inputs(g, 4));
        Tensor off = seen.get("offsets"), boxes = out.get("boxes"), scores = out.get("scores");
        assertNotNull(off);
        assertEquals(Shape.of(1, 96, 4), boxes.shape());
        assertEquals(Shape.of(1, 96, 11), scores.shape());
        List<double[]> anchors = new ArrayList<>();   // (cy, cx, h, w) in the order the heads emit them
        int[] sizes = {4, 2, 1, 1, 1, 1};
        for (int m = 0; m < 6; m++)
            for (int y = 0; y < sizes[m]; y++)
                for (int x = 0; x < sizes[m]; x++)
                    for (double[] hw : SsdLite.anchorShapes(m, 6)) anchors.add(new double[] {(y + 0.5) / sizes[m], (x + 0.5) / sizes[m], hw[0], hw[1]});
        assertEquals(96, anchors.size());
        for (int i = 0; i < 96; i++) {
            double[] a = anchors.get(i);
            double cy = off.getDouble(4 * i) / 10 * a[2] + a[0], cx = off.getDouble(4 * i + 1) / 10 * a[3] + a[1];
            double h = Math.exp(off.getDouble(4 * i + 2) / 5) * a[2], w = Math.exp(off.getDouble(4 * i + 3) / 5) * a[3];
            double[] want = {cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2};
            for (int k = 0; k < 4; k++) assertEquals(want[k], boxes.getDouble(4 * i + k), 1e-5, "anchor " + i + " coordinate " + k);
        }
        for (int i = 0; i < scores.size(); i++) assertTrue(scores.getDouble(i) > 0 && scores.getDouble(i) < 1, "sigmoid score " + scores.getDouble(i));
        // the paper's anchor count at 300x300: 19x19x3 + (10x10 + 5x5 + 3x3 + 2x2 + 1x1) x 6
        assertEquals(Shape.of(1, 1917, 4), Zoo.build("ssdlite").outputs().get(0).type().shape());
    }

    /** ssdlite-nms is ssdlite (the same weights) with EfficientNMS_TRT over its boxes and scores, and survives an ONNX round trip. */
    @Test void ssdLiteNmsEndsInEfficientNmsOverTheDecodedBoxes() {
        Graph g = Zoo.build("ssdlite-nms-tiny");
        assertEquals(List.of("num_detections", "detection_boxes", "detection_scores", "detection_classes"), g.outputs().stream().map(Value::name).toList());
        assertEquals(List.of(Shape.of(1, 1), Shape.of(1, 300, 4), Shape.of(1, 300), Shape.of(1, 300)), g.outputs().stream().map(v -> v.type().shape()).toList());
        assertEquals(org.tessel.api.DType.I32, g.outputs().get(3).type().dtype());
        assertEquals(Shape.of(1, 300, 4), Zoo.build("ssdlite-nms").outputs().get(1).type().shape());
        Map<String, Tensor> in = TinyModelRunTest.inputs(g, 4);
        Map<String, Tensor> out = new ReferenceInterpreter().run(g, in), plain = new ReferenceInterpreter().run(Zoo.build("ssdlite-tiny"), in);
        Tensor boxes = plain.get("boxes"), scores = plain.get("scores");
        EfficientNmsOp.Params p = EfficientNmsOp.params(g.nodes().getLast().attrs(), 11);
        assertEquals(0.001f, p.scoreThreshold());
        assertEquals(0, p.backgroundClass());
        int[] kept = EfficientNmsOp.keep(boxes, scores, 0, p);
        assertEquals(kept.length, out.get("num_detections").getLong(0));
        assertTrue(kept.length > 0);
        for (int k = 0; k < kept.length; k++) {
            assertEquals(kept[k] % 11, out.get("detection_classes").getLong(k));
            assertTrue(kept[k] % 11 != 0, "the background class is never detected");
            for (int j = 0; j < 4; j++) assertEquals(boxes.getFloat(kept[k] / 11 * 4 + j), out.get("detection_boxes").getFloat(4 * k + j));
        }
        Graph back = OnnxImporter.importModel(OnnxExporter.toBytes(g), "ssdlite-nms-tiny.onnx");
        Map<String, Tensor> again = new ReferenceInterpreter().run(back, in);
        for (String k : out.keySet()) assertTrue(out.get(k).dataEquals(again.get(k)), "ONNX round trip: " + k);
    }

    @Test void tinyFamiliesAreSeeded() {
        for (String model : TINY) {
            Map<String, Tensor> a = TinyModelRunTest.run(model, ZooOptions.defaults().withSeed(5), 9);
            Map<String, Tensor> b = TinyModelRunTest.run(model, ZooOptions.defaults().withSeed(5), 9);
            Map<String, Tensor> c = TinyModelRunTest.run(model, ZooOptions.defaults().withSeed(6), 9);
            for (String k : a.keySet()) {
                assertAllFinite(model, a.get(k));
                assertTrue(a.get(k).dataEquals(b.get(k)), model + ": output " + k + " differs between two builds with seed 5");
                assertTrue(!a.get(k).dataEquals(c.get(k)), model + ": output " + k + " is the same under seeds 5 and 6");
            }
        }
    }

    /** Every example goes through the network on its own: a batch of two gives what two batches of one give. */
    @Test void batchedRunsMatchSingleExampleRuns() {
        for (String model : TINY) {
            Graph g2 = Zoo.build(model, ZooOptions.defaults().withBatch(2)), g1 = Zoo.build(model, ZooOptions.defaults());
            Map<String, Tensor> in2 = TinyModelRunTest.inputs(g2, 11);
            Map<String, Tensor> out2 = new ReferenceInterpreter().run(g2, in2);
            for (int ex = 0; ex < 2; ex++) {
                Map<String, Tensor> in1 = new HashMap<>();
                for (var e : in2.entrySet()) in1.put(e.getKey(), example(e.getValue(), ex));
                Map<String, Tensor> out1 = new ReferenceInterpreter().run(g1, in1);
                for (String k : out1.keySet()) {
                    Tensor one = out1.get(k), whole = example(out2.get(k), ex);
                    assertEquals(one.shape(), whole.shape(), model + " " + k);
                    for (int i = 0; i < one.size(); i++)
                        assertEquals(one.getDouble(i), whole.getDouble(i), 1e-4 * Math.max(1, Math.abs(one.getDouble(i))), model + " " + k + " example " + ex + " [" + i + "]");
                }
            }
        }
    }

    /** Example {@code ex} of a float tensor, as a batch of one. */
    private static Tensor example(Tensor t, int ex) {
        int[] d = t.shape().dims();
        int per = (int) (t.shape().numElements() / d[0]);
        d[0] = 1;
        Tensor out = Tensor.zeros(t.dtype(), Shape.of(d));
        for (int i = 0; i < per; i++) out.setDouble(i, t.getDouble(ex * per + i));
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"efficientnet-b0-tiny", "convnext-tiny-tiny", "unet-tiny", "unet-bilinear-tiny", "crnn-tiny", "crnn-lstm-tiny", "ssdlite-tiny"})
    void onnxExportAndImportKeepTheOutputs(String model) {
        Graph g = Zoo.build(model, ZooOptions.defaults());
        Verifier.verify(g);
        Graph back = OnnxImporter.importModel(OnnxExporter.toBytes(g), model + ".onnx");
        Map<String, Tensor> in = TinyModelRunTest.inputs(g, 21);
        Map<String, Tensor> want = new ReferenceInterpreter().run(g, in), got = new ReferenceInterpreter().run(back, in);
        assertEquals(want.keySet(), got.keySet(), model + ": output names");
        for (String k : want.keySet())
            for (int i = 0; i < want.get(k).size(); i++)
                assertEquals(want.get(k).getDouble(i), got.get(k).getDouble(i), 1e-5 * Math.max(1, Math.abs(want.get(k).getDouble(i))), model + " " + k + "[" + i + "]");
    }

    private static Node node(Graph g, String name) {
        Node n = g.nodes().stream().filter(x -> x.name().equals(name)).findFirst().orElse(null);
        assertNotNull(n, "graph " + g.name() + " has no node '" + name + "'");
        return n;
    }

    private static void assertAllFinite(String model, Tensor t) {
        for (int i = 0; i < t.size(); i++) assertTrue(Double.isFinite(t.getDouble(i)), model + ": non-finite value at " + i);
    }

}

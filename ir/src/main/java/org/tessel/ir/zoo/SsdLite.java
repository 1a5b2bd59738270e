package org.tessel.ir.zoo;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.EfficientNmsOp;

/**
 * SSDLite on MobileNetV2 (Sandler et al. 2018, section 6.2; the TensorFlow Object Detection API's
 * {@code ssdlite_mobilenet_v2_coco}), a single-shot detector with its box decoding in the graph.
 *
 * <p>Backbone: MobileNetV2 (as {@link MobileNetV2}, without its classifier). Six feature maps: the
 * expansion output of the first block of the 160-channel stage (stride 16, 576 channels, 19x19 at
 * the 300x300 input), the final 1x1 convolution (stride 32, 1280 channels), and four extra layers of
 * 512, 256, 256 and 128 channels (1x1 to half width, 3x3/2 depthwise, 1x1; BN and ReLU6 after
 * each). On each map an SSDLite predictor per output, a 3x3 depthwise convolution with BN and
 * ReLU6 then a biased 1x1 convolution, gives 4 box offsets and 91 class logits (90 COCO classes
 * and background) per anchor: 3 anchors per location on the first map, 6 on the others, 1917 in
 * all.
 *
 * <p>Post-processing in the graph: the logits become scores by Sigmoid (the API's score
 * converter), and the offsets are decoded against the anchors (constants, as the API's grid anchor
 * generator makes them: scales 0.2 to 0.95, aspect ratios 1, 2, 1/2, 3, 1/3 and one interpolated
 * scale; the lowest layer 0.1 at 1 and 0.2 at 2 and 1/2) with the Faster R-CNN box coder (scale
 * factors 10, 10, 5, 5) into [ymin, xmin, ymax, xmax] boxes relative to the image. Outputs: boxes
 * [N, anchors, 4] and scores [N, anchors, classes].
 *
 * <p>With NMS ({@code ssdlite-nms}), the boxes and scores go on into TensorRT's EfficientNMS_TRT ({@link EfficientNmsOp}),
 * with the parameters of torchvision's {@code ssdlite320_mobilenet_v3_large} post-processing: score threshold 0.001, IoU
 * threshold 0.55, 300 detections, class 0 (background) never detected. The scores stay the model's Sigmoid (the TF
 * API's converter; torchvision's model uses a softmax), and NMS is per class over all of them, as EfficientNMS does (the
 * first 4096 candidates; torchvision keeps the top 300 per class from each feature map first). Outputs:
 * num_detections [N, 1], detection_boxes [N, 300, 4] ([ymin, xmin, ymax, xmax]), detection_scores [N, 300],
 * detection_classes [N, 300].
 */
final class SsdLite {
    private SsdLite() {}

    /**
     * @param width       MobileNetV2 width multiplier (1.0 published)
     * @param maxBlocks   caps the backbone's blocks per stage (the tiny variant keeps one)
     * @param lastChannel the backbone's final 1x1 convolution (1280 published)
     * @param extraDepth  divides the extra layers' widths 512, 256, 256, 128 (1 published)
     * @param classes     class logits per anchor, background included (91 for COCO)
     */
    record Config(double width, int maxBlocks, int lastChannel, int extraDepth, int imageSize, int classes) {}

    static final Config SSDLITE = new Config(1.0, Integer.MAX_VALUE, 1280, 1, 300, 91);
    static final Config SSDLITE_TINY = new Config(0.25, 1, 128, 4, 64, 11);

    private static final int[] EXTRA_DEPTHS = {512, 256, 256, 128};
    private static final double MIN_SCALE = 0.2, MAX_SCALE = 0.95;
    private static final float BN_EPS = MobileNetV2.BN_EPS;

    /** The NMS of {@code ssdlite-nms}: torchvision's ssdlite320 post-processing values. */
    static final float NMS_SCORE_THRESHOLD = 0.001f, NMS_IOU_THRESHOLD = 0.55f;
    static final int NMS_DETECTIONS = 300, BACKGROUND_CLASS = 0;

    /** The detector ending in decoded boxes and scores, or (nms) in EfficientNMS_TRT's four outputs. */
    static Graph build(String name, Config c, ZooOptions o, boolean nms) {
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), o.seed());
        Value x = b.input("image", DType.F32, o.batch(), 3, c.imageSize(), c.imageSize());
        List<Value> maps = new ArrayList<>();
        int in = Layers.makeDivisible(32 * c.width(), 8);
        b.scope("features.0.");
        x = MobileNetV2.convBnRelu6(b, x, "", in, 3, 2, 1);
        int index = 1;
        for (MobileNetV2.Stage st : MobileNetV2.STAGES) {
            int out = Layers.makeDivisible(st.c() * c.width(), 8);
            for (int i = 0; i < Math.min(st.n(), c.maxBlocks()); i++) {
                b.scope("features." + index++ + ".");
                Value expanded = MobileNetV2.expansion(b, x, in, st.t());
                if (st.c() == 160 && i == 0) maps.add(expanded);   // the stride-16 tap
                x = MobileNetV2.depthwiseProject(b, x, expanded, in, out, i == 0 ? st.s() : 1);
                in = out;
            }
        }
        b.scope("features." + index + ".");
        x = MobileNetV2.convBnRelu6(b, x, "", c.lastChannel(), 1, 1, 0);
        maps.add(x);
        for (int e = 0; e < EXTRA_DEPTHS.length; e++) {
            int depth = EXTRA_DEPTHS[e] / c.extraDepth();
            b.scope("extras." + e + ".");
            x = MobileNetV2.convBnRelu6(b, x, "reduce.", depth / 2, 1, 1, 0);
            x = Layers.conv(b, x, "depthwise.conv", depth / 2, 3, 2, 1, depth / 2);
            x = Layers.batchNorm(b, x, "depthwise.bn", depth / 2, BN_EPS);
            x = b.name("depthwise.relu6").clip(x, 0, 6);
            x = MobileNetV2.convBnRelu6(b, x, "pointwise.", depth, 1, 1, 0);
            maps.add(x);
        }

        List<Value> boxParts = new ArrayList<>(), classParts = new ArrayList<>();
        List<float[]> anchors = new ArrayList<>();
        for (int m = 0; m < maps.size(); m++) {
            Value f = maps.get(m);
            int h = f.type().shape().dim(2), w = f.type().shape().dim(3);
            List<double[]> shapes = anchorShapes(m, maps.size());
            b.scope("head." + m + ".");
            boxParts.add(predictor(b, f, "box", shapes.size(), 4));
            classParts.add(predictor(b, f, "class", shapes.size(), c.classes()));
            for (int yi = 0; yi < h; yi++)
                for (int xi = 0; xi < w; xi++)
                    for (double[] hw : shapes)
                        anchors.add(new float[] {(float) ((yi + 0.5) / h), (float) ((xi + 0.5) / w), (float) hw[0], (float) hw[1]});
        }
        b.scope("postprocess.");
        Value offsets = b.name("box_offsets").concat(1, boxParts.toArray(Value[]::new));      // [N, A, 4]
        Value logits = b.name("class_logits").concat(1, classParts.toArray(Value[]::new));    // [N, A, classes]
        Value boxes = decode(b, offsets, anchors);
        b.scope("");
        Value scores = b.name("scores").sigmoid(logits);
        if (!nms) return b.output(boxes, scores).build();
        Attributes a = Attributes.builder().put("score_threshold", NMS_SCORE_THRESHOLD).put("iou_threshold", NMS_IOU_THRESHOLD)
                .put("max_output_boxes", (long) NMS_DETECTIONS).put("background_class", (long) BACKGROUND_CLASS).build();
        Node n = b.node(EfficientNmsOp.QUALIFIED_NAME, "nms", a, 4, boxes, scores);
        List<String> names = List.of("num_detections", "detection_boxes", "detection_scores", "detection_classes");
        for (int i = 0; i < 4; i++) b.graph().renameValue(n.output(i), names.get(i));
        return b.output(n.outputs().toArray(Value[]::new)).build();
    }

    /** An SSDLite predictor: 3x3 depthwise + BN + ReLU6, biased 1x1 to anchors * values, to [N, H*W*anchors, values]. */
    private static Value predictor(NetworkBuilder b, Value f, String kind, int anchors, int values) {
        int ch = f.type().shape().dim(1), n = f.type().shape().dim(0);
        int h = f.type().shape().dim(2), w = f.type().shape().dim(3);
        Value y = Layers.conv(b, f, kind + ".depthwise.conv", ch, 3, 1, 1, ch);
        y = Layers.batchNorm(b, y, kind + ".depthwise.bn", ch, BN_EPS);
        y = b.name(kind + ".depthwise.relu6").clip(y, 0, 6);
        Value wt = b.randomWeights(kind + ".conv.weight", anchors * values, ch, 1, 1);
        y = b.name(kind + ".conv").conv(y, wt, b.normalWeights(kind + ".conv.bias", 0.01f, anchors * values), 1, 0);
        y = b.name(kind + ".to_nhwc").transpose(y, 0, 2, 3, 1);
        return b.name(kind + ".to_anchors").reshape(y, n, (long) h * w * anchors, values);
    }

    /**
     * Anchor (height, width) pairs of feature map k of L, relative to the image: the lowest map has
     * (0.1, 1), (0.2, 2), (0.2, 1/2); the others scale s_k for ratios 1, 2, 1/2, 3, 1/3 and the
     * interpolated scale sqrt(s_k s_k+1) at ratio 1.
     */
    static List<double[]> anchorShapes(int k, int layers) {
        List<double[]> out = new ArrayList<>();
        if (k == 0) {
            out.add(hw(0.1, 1.0));
            out.add(hw(MIN_SCALE, 2.0));
            out.add(hw(MIN_SCALE, 0.5));
            return out;
        }
        double s = scale(k, layers), next = k + 1 == layers ? 1.0 : scale(k + 1, layers);
        for (double ratio : new double[] {1.0, 2.0, 0.5, 3.0, 1.0 / 3}) out.add(hw(s, ratio));
        out.add(hw(Math.sqrt(s * next), 1.0));
        return out;
    }

    private static double scale(int k, int layers) { return MIN_SCALE + (MAX_SCALE - MIN_SCALE) * k / (layers - 1); }

    private static double[] hw(double scale, double ratio) { return new double[] {scale / Math.sqrt(ratio), scale * Math.sqrt(ratio)}; }

    /**
     * The Faster R-CNN box coder's decoding: centre = t_yx / 10 * anchor_hw + anchor_yx,
     * size = exp(t_hw / 5) * anchor_hw, then corners centre -+ size / 2.
     */
    private static Value decode(NetworkBuilder b, Value offsets, List<float[]> anchors) {
        int a = anchors.size();
        float[] centre = new float[2 * a], size = new float[2 * a], sizeTenth = new float[2 * a];
        for (int i = 0; i < a; i++) {
            float[] an = anchors.get(i);
            centre[2 * i] = an[0];
            centre[2 * i + 1] = an[1];
            size[2 * i] = an[2];
            size[2 * i + 1] = an[3];
            sizeTenth[2 * i] = an[2] / 10f;
            sizeTenth[2 * i + 1] = an[3] / 10f;
        }
        if (offsets.type().shape().dim(1) != a)
            throw new IllegalStateException("SSDLite: " + offsets.type().shape().dim(1) + " predictions but " + a + " anchors");
        List<Value> parts = b.name("split_offsets").split(offsets, 2, 2, 2);
        Value anchorSizeTenth = b.constant("anchor_size_tenth", Tensor.ofFloats(Shape.of(a, 2), sizeTenth));
        Value anchorCentre = b.constant("anchor_centre", Tensor.ofFloats(Shape.of(a, 2), centre));
        Value anchorSize = b.constant("anchor_size", Tensor.ofFloats(Shape.of(a, 2), size));
        Value scaled = b.name("centre.scale").mul(parts.get(0), anchorSizeTenth);
        Value c = b.name("centre").add(scaled, anchorCentre);
        Value logSize = b.name("size.scale").mul(parts.get(1), b.scalar("size_scale", DType.F32, 0.2));
        Value expSize = b.name("size.exp").op("Exp", null, logSize);
        Value s = b.name("size").mul(expSize, anchorSize);
        Value halfScalar = b.scalar("half", DType.F32, 0.5);
        Value half = b.name("half_size").mul(s, halfScalar);
        Value lo = b.name("corner_min").sub(c, half), hi = b.name("corner_max").add(c, half);
        b.scope("");
        return b.name("boxes").concat(2, lo, hi);
    }
}

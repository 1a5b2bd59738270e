package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * TensorRT's {@code EfficientNMS_TRT} (domain {@value #DOMAIN}; the ONNX importer also reads it from the default domain, as
 * exporters write it either way): non-maximum suppression with fixed-shape outputs, the form a detector is exported with
 * when its NMS should run in the engine (ONNX's NonMaxSuppression has a data-dependent output shape).
 *
 * <p>Inputs: boxes {@code [B, N, 4]} (one box per anchor) or {@code [B, N, C, 4]} (a box per anchor and class), scores
 * {@code [B, N, C]}, both of one floating type T (f32, f16, bf16). TensorRT's third input (anchors, its fused box decoder)
 * is refused: decode the boxes in the graph. Outputs: num_detections i32 {@code [B, 1]}, detection_boxes T {@code [B, M, 4]}
 * (corners), detection_scores T {@code [B, M]}, detection_classes i32 {@code [B, M]}, M = max_output_boxes; slots past an
 * image's num_detections are zero.
 *
 * <p>Semantics, per image (the reference below and the GPU kernel, nms.cu, compute them alike, bit for bit on f32):
 * <ol>
 * <li>The candidates are the pairs (box n, class c), c != background_class, whose score r (as a float) is greater than t:
 *     t = score_threshold, or with score_activation t = logit(score_threshold) = (float) ln(thr / (1 - thr)) computed in
 *     double ({@link #keyThreshold}), as TensorRT moves the threshold rather than apply the sigmoid to every score. A NaN
 *     score is never a candidate.</li>
 * <li>They are ordered by r descending (as Float.compare orders floats: -0 below +0), ties by the flat index n * C + c
 *     ascending, and only the first {@value #MAX_CANDIDATES} are considered (TensorRT's numSelectedBoxes).</li>
 * <li>Walking that order, a candidate is kept unless an already kept candidate of the same class (of any class with
 *     class_agnostic) overlaps it with IoU > iou_threshold ({@link #iou}); the walk stops at M kept.</li>
 * <li>A kept candidate's box is written as corners: as given with box_coding 0 ([x1, y1, x2, y2]), or from [x, y, w, h] with
 *     box_coding 1 as x1 = x - 0.5 w, y1 = y - 0.5 h, x2 = x + 0.5 w, y2 = y + 0.5 h (float arithmetic); its score is r, or
 *     with score_activation sigmoid(r) = 1 / (1 + e^-r) computed in double and rounded to float; values are rounded
 *     into T once from float. Its class is c.</li>
 * </ol>
 * The sigmoid's double exp is the one place where the GPU's and Java's libraries could differ; they would have to differ
 * across a float rounding boundary (a chance of about 2^-28 a score) for a kept score to differ by an ulp.
 */
public final class EfficientNmsOp extends BaseOp {
    /** TensorRT's plugin domain, as exporters write it (torch.onnx: {@code g.op("TRT::EfficientNMS_TRT", ...)}). */
    public static final String DOMAIN = "TRT";
    public static final String NAME = "EfficientNMS_TRT";
    /** What {@link org.tessel.ir.Node#opName()} says of it. */
    public static final String QUALIFIED_NAME = DOMAIN + "." + NAME;
    /** The most candidates the greedy walk considers, per image: TensorRT's numSelectedBoxes. */
    public static final int MAX_CANDIDATES = 4096;

    EfficientNmsOp() {
        super(def(NAME, "TensorRT's EfficientNMS: per image, the highest-scoring boxes above score_threshold, each kept unless a kept box "
                + "of its class overlaps it with IoU > iou_threshold; fixed-shape outputs (count, boxes, scores, classes)")
                .domain(DOMAIN)
                .inputs(2, 3, "boxes", "scores", "anchors").outputs(4, 4)
                .floatAttr("score_threshold", 0.5f, "candidates score above it (strictly); with score_activation, the sigmoid of the score does")
                .floatAttr("iou_threshold", 0.5f, "a kept box suppresses a later one of its class whose IoU with it is above this, in [0, 1]")
                .intAttr("max_output_boxes", 100, "M: the most detections per image, the outputs' second axis")
                .intAttr("background_class", -1, "a class that is never detected; -1 for none")
                .intAttr("score_activation", 0, "1: scores are logits, the outputs hold their sigmoid")
                .intAttr("class_agnostic", 0, "1: a kept box suppresses overlapping boxes of every class")
                .intAttr("box_coding", 0, "0: boxes are corners [x1, y1, x2, y2]; 1: centers and sizes [x, y, w, h]")
                .stringAttr("plugin_version", "1", "TensorRT's plugin version; Tessel implements version 1"));
    }

    /** The attributes, checked: what an error names is the attribute. */
    public record Params(float scoreThreshold, float iouThreshold, int maxOutputBoxes, int backgroundClass, boolean scoreActivation,
                         boolean classAgnostic, boolean centerSize) {
        /** The threshold applied to raw scores (strictly above it): score_threshold, or its logit with score_activation. */
        public float keyThreshold() { return EfficientNmsOp.keyThreshold(scoreThreshold, scoreActivation); }
    }

    private static boolean flag(Attributes a, String name) {
        long v = a.getInt(name, 0);
        if (v != 0 && v != 1) throw new OpException("attribute '" + name + "' must be 0 or 1, got " + v);
        return v == 1;
    }

    /** Reads and checks the attributes for scores of {@code classes} classes. */
    public static Params params(Attributes a, int classes) {
        String version = a.getString("plugin_version", "1");
        if (!version.equals("1")) throw new OpException("attribute 'plugin_version' is '" + version + "'; Tessel implements EfficientNMS_TRT version 1");
        float score = a.getFloat("score_threshold", 0.5f), iou = a.getFloat("iou_threshold", 0.5f);
        if (Float.isNaN(score)) throw new OpException("attribute 'score_threshold' is NaN");
        if (!(iou >= 0 && iou <= 1)) throw new OpException("attribute 'iou_threshold' must be in [0, 1], got " + iou);
        long m = a.getInt("max_output_boxes", 100);
        if (m < 1 || m > Integer.MAX_VALUE) throw new OpException("attribute 'max_output_boxes' must be at least 1, got " + m);
        long bg = a.getInt("background_class", -1);
        if (bg < -1 || bg >= classes) throw new OpException("attribute 'background_class' is " + bg + "; it must be -1 (none) or a class of the scores' " + classes);
        long coding = a.getInt("box_coding", 0);
        if (coding != 0 && coding != 1) throw new OpException("attribute 'box_coding' must be 0 (corners) or 1 (center and size), got " + coding);
        return new Params(score, iou, (int) m, (int) bg, flag(a, "score_activation"), flag(a, "class_agnostic"), coding == 1);
    }

    /** The threshold on raw scores: {@code thr}, or with {@code activation} its logit in double rounded to float (-inf at or below 0, +inf at or above 1). */
    public static float keyThreshold(float thr, boolean activation) {
        if (!activation) return thr;
        if (thr <= 0) return Float.NEGATIVE_INFINITY;
        if (thr >= 1) return Float.POSITIVE_INFINITY;
        return (float) Math.log(thr / (1.0 - thr));
    }

    /** The kept score of raw score r: r, or with activation 1 / (1 + e^-r) in double, rounded to float. */
    public static float keptScore(float r, boolean activation) { return activation ? (float) (1.0 / (1.0 + Math.exp(-(double) r))) : r; }

    /** Corners of a box as given (x1, y1, x2, y2), or of a center-size one (x, y, w, h). */
    public static float[] corners(float a, float b, float c, float d, boolean centerSize) {
        if (!centerSize) return new float[] {a, b, c, d};
        float hw = 0.5f * c, hh = 0.5f * d;
        return new float[] {a - hw, b - hh, a + hw, b + hh};
    }

    /**
     * IoU of two corner boxes in float: each normalized per axis (lo = the smaller coordinate, so flipped corners work),
     * iw = min(hi) - max(lo) per axis, intersection iw * ih when both are positive else 0, union = (areaA + areaB) - inter,
     * IoU = inter / union, 0 when union <= 0. Every operation rounds to float once (no fused multiply-add), as nms.cu's
     * __fmul_rn / __fadd_rn / __fsub_rn / __fdiv_rn do.
     */
    public static float iou(float[] a, float[] b) {
        float ax1 = a[0] < a[2] ? a[0] : a[2], ax2 = a[0] < a[2] ? a[2] : a[0], ay1 = a[1] < a[3] ? a[1] : a[3], ay2 = a[1] < a[3] ? a[3] : a[1];
        float bx1 = b[0] < b[2] ? b[0] : b[2], bx2 = b[0] < b[2] ? b[2] : b[0], by1 = b[1] < b[3] ? b[1] : b[3], by2 = b[1] < b[3] ? b[3] : b[1];
        float iw = (ax2 < bx2 ? ax2 : bx2) - (ax1 > bx1 ? ax1 : bx1);
        float ih = (ay2 < by2 ? ay2 : by2) - (ay1 > by1 ? ay1 : by1);
        float inter = iw > 0 && ih > 0 ? iw * ih : 0f;
        float union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
        return union > 0 ? inter / union : 0f;
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        if (ctx.hasInput(2))
            throw new OpException("input anchors (TensorRT's fused box decoder) is not supported: decode the boxes in the graph and pass them as input boxes");
        TensorType boxes = ctx.input(0), scores = ctx.input(1);
        DTypeSets.require("input scores", scores.dtype(), java.util.EnumSet.of(DType.F32, DType.F16, DType.BF16));
        if (boxes.dtype() != scores.dtype())
            throw new OpException("input boxes is " + boxes.dtype().text() + " but input scores is " + scores.dtype().text() + "; they must be of one type");
        if (scores.rank() != 3) throw new OpException("input scores must be [batch, boxes, classes], got shape " + scores.shape());
        int b = scores.shape().dim(0), n = scores.shape().dim(1), c = scores.shape().dim(2);
        Shape bs = boxes.shape();
        if (boxes.rank() != 3 && boxes.rank() != 4) throw new OpException("input boxes must be [batch, boxes, 4] or [batch, boxes, classes, 4], got shape " + bs);
        if (bs.dim(-1) != 4) throw new OpException("input boxes' last axis must hold 4 coordinates, got shape " + bs);
        if (bs.dim(0) != b) throw new OpException("input boxes has batch " + bs.dim(0) + " but input scores has " + b);
        if (bs.dim(1) != n) throw new OpException("input boxes has " + bs.dim(1) + " boxes but input scores has " + n);
        if (boxes.rank() == 4 && bs.dim(2) != c) throw new OpException("input boxes has " + bs.dim(2) + " classes but input scores has " + c);
        if ((long) n * c > Integer.MAX_VALUE) throw new OpException("input scores holds " + (long) n * c + " scores an image; at most " + Integer.MAX_VALUE);
        int m = params(ctx.attrs(), c).maxOutputBoxes();
        DType t = scores.dtype();
        return List.of(TensorType.of(DType.I32, Shape.of(b, 1)), TensorType.of(t, Shape.of(b, m, 4)), TensorType.of(t, Shape.of(b, m)),
                TensorType.of(DType.I32, Shape.of(b, m)));
    }

    /** One image's result: the kept candidates' flat indices n * C + c, in order. */
    public static int[] keep(Tensor boxes, Tensor scores, int image, Params p) {
        int n = scores.shape().dim(1), c = scores.shape().dim(2);
        float t = p.keyThreshold();
        List<Integer> cand = new ArrayList<>();
        int base = image * n * c;
        for (int f = 0; f < n * c; f++)
            if (f % c != p.backgroundClass() && scores.getFloat(base + f) > t) cand.add(f);
        cand.sort((x, y) -> {
            int k = Float.compare(scores.getFloat(base + y), scores.getFloat(base + x));
            return k != 0 ? k : Integer.compare(x, y);
        });
        int considered = Math.min(cand.size(), MAX_CANDIDATES);
        List<float[]> keptBoxes = new ArrayList<>();
        List<Integer> kept = new ArrayList<>();
        for (int i = 0; i < considered && kept.size() < p.maxOutputBoxes(); i++) {
            int f = cand.get(i);
            float[] box = box(boxes, image, f, n, c, p.centerSize());
            boolean suppressed = false;
            for (int k = 0; k < kept.size() && !suppressed; k++)
                suppressed = (p.classAgnostic() || kept.get(k) % c == f % c) && iou(keptBoxes.get(k), box) > p.iouThreshold();
            if (!suppressed) {
                kept.add(f);
                keptBoxes.add(box);
            }
        }
        return kept.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The corners of candidate f = n * C + c of image {@code image}. */
    public static float[] box(Tensor boxes, int image, int f, int n, int c, boolean centerSize) {
        int at = boxes.rank() == 4 ? (image * n * c + f) * 4 : (image * n + f / c) * 4;
        return corners(boxes.getFloat(at), boxes.getFloat(at + 1), boxes.getFloat(at + 2), boxes.getFloat(at + 3), centerSize);
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor boxes = ctx.input(0), scores = ctx.input(1);
        int b = scores.shape().dim(0), n = scores.shape().dim(1), c = scores.shape().dim(2);
        Params p = params(ctx.attrs(), c);
        int m = p.maxOutputBoxes();
        Tensor num = Tensor.zeros(ctx.outputType(0)), outBoxes = Tensor.zeros(ctx.outputType(1)), outScores = Tensor.zeros(ctx.outputType(2)),
                outClasses = Tensor.zeros(ctx.outputType(3));
        for (int i = 0; i < b; i++) {
            int[] kept = keep(boxes, scores, i, p);
            num.setLong(i, kept.length);
            for (int k = 0; k < kept.length; k++) {
                int f = kept[k], slot = i * m + k;
                float[] box = box(boxes, i, f, n, c, p.centerSize());
                for (int j = 0; j < 4; j++) outBoxes.setDouble(slot * 4 + j, box[j]);
                outScores.setDouble(slot, keptScore(scores.getFloat(i * n * c + f), p.scoreActivation()));
                outClasses.setLong(slot, f % c);
            }
        }
        return List.of(num, outBoxes, outScores, outClasses);
    }
}

package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.ir.ops.TensorOpsTest.assertMessage;
import static org.tessel.ir.ops.TensorOpsTest.error;
import static org.tessel.ir.ops.TensorOpsTest.eval;

import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/** Hand-worked cases, refusals and properties of {@link EfficientNmsOp}, TensorRT's EfficientNMS_TRT. */
class EfficientNmsOpTest {
    static final String OP = "TRT.EfficientNMS_TRT";

    static Tensor f32(int[] dims, float... v) { return Tensor.ofFloats(DType.F32, Shape.of(dims), v); }

    /** Four boxes: 0 and 3 the same square (3 with flipped corners), 1 overlapping them (IoU 81 / 119), 2 apart. */
    static final Tensor BOXES = f32(new int[] {1, 4, 4}, 0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 10, 10, 0, 0);
    /** Scores of the four boxes for two classes. */
    static final Tensor SCORES = f32(new int[] {1, 4, 2}, 0.9f, 0.1f, 0.8f, 0.7f, 0.3f, 0.95f, 0.6f, 0.6f);

    static Attributes attrs(Object... kv) {
        Attributes.Builder b = Attributes.builder().put("score_threshold", 0.2f).put("iou_threshold", 0.5f).put("max_output_boxes", 5L);
        for (int i = 0; i < kv.length; i += 2) {
            if (kv[i + 1] instanceof Float f) b.put((String) kv[i], f);
            else if (kv[i + 1] instanceof String s) b.put((String) kv[i], s);
            else b.put((String) kv[i], ((Number) kv[i + 1]).longValue());
        }
        return b.build();
    }

    static List<Tensor> nms(Attributes a, Tensor boxes, Tensor scores) { return eval(OP, a, 4, boxes, scores); }

    /*
     * Candidates above 0.2 by score: (box 2, class 1) .95, (0, 0) .9, (1, 0) .8, (1, 1) .7, (3, 0) .6, (3, 1) .6, (2, 0) .3.
     * Kept: box 2 c1; box 0 c0; box 1 c0 is suppressed by box 0 (IoU .68); box 1 c1 is kept (box 2 is apart); box 3 c0
     * by box 0 (the same square, flipped); box 3 c1 by box 1 (.68); box 2 c0 is kept.
     */
    @Test void keepsPerClassInScoreOrderAndPadsWithZeros() {
        List<Tensor> r = nms(attrs(), BOXES, SCORES);
        assertEquals(Shape.of(1, 1), r.get(0).shape());
        assertArrayEquals(new long[] {4}, r.get(0).longs());
        assertEquals(DType.I32, r.get(0).dtype());
        assertArrayEquals(new float[] {20, 20, 30, 30, 0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 0, 0, 0, 0}, r.get(1).floats());
        assertArrayEquals(new float[] {0.95f, 0.9f, 0.7f, 0.3f, 0}, r.get(2).floats());
        assertArrayEquals(new long[] {1, 0, 1, 0, 0}, r.get(3).longs());
        assertEquals(DType.I32, r.get(3).dtype());
    }

    @Test void classAgnosticSuppressesAcrossClasses() {
        List<Tensor> r = nms(attrs("class_agnostic", 1), BOXES, SCORES);
        assertArrayEquals(new long[] {2}, r.get(0).longs());
        assertArrayEquals(new float[] {0.95f, 0.9f, 0, 0, 0}, r.get(2).floats());
        assertArrayEquals(new long[] {1, 0, 0, 0, 0}, r.get(3).longs());
    }

    @Test void stopsAtMaxOutputBoxes() {
        List<Tensor> r = nms(attrs("max_output_boxes", 2), BOXES, SCORES);
        assertArrayEquals(new long[] {2}, r.get(0).longs());
        assertArrayEquals(new float[] {20, 20, 30, 30, 0, 0, 10, 10}, r.get(1).floats());
    }

    @Test void backgroundClassIsNeverDetected() {
        List<Tensor> r = nms(attrs("background_class", 1), BOXES, SCORES);
        assertArrayEquals(new long[] {2}, r.get(0).longs());
        assertArrayEquals(new float[] {0.9f, 0.3f, 0, 0, 0}, r.get(2).floats());
        assertArrayEquals(new long[] {0, 0, 0, 0, 0}, r.get(3).longs());
    }

    @Test void nothingAboveTheThresholdGivesZeros() {
        List<Tensor> r = nms(attrs("score_threshold", 0.95f), BOXES, SCORES);
        assertArrayEquals(new long[] {0}, r.get(0).longs(), "the threshold is strict: .95 is not above .95");
        assertArrayEquals(new float[20], r.get(1).floats());
    }

    @Test void centerSizeBoxesComeOutAsCorners() {
        Tensor boxes = f32(new int[] {1, 2, 4}, 5, 5, 10, 10, 5.5f, 5.5f, 10, 10);
        Tensor scores = f32(new int[] {1, 2, 1}, 0.5f, 0.6f);
        List<Tensor> r = nms(attrs("box_coding", 1), boxes, scores);
        assertArrayEquals(new long[] {1}, r.get(0).longs(), "the two boxes overlap with IoU 90.25 / 109.75");
        assertArrayEquals(new float[] {0.5f, 0.5f, 10.5f, 10.5f}, java.util.Arrays.copyOf(r.get(1).floats(), 4));
    }

    @Test void scoreActivationThresholdsLogitsAndOutputsSigmoids() {
        Tensor boxes = f32(new int[] {1, 3, 4}, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5);
        Tensor scores = f32(new int[] {1, 3, 1}, 2f, -0.5f, 0.1f);
        List<Tensor> r = nms(attrs("score_activation", 1, "score_threshold", 0.5f), boxes, scores);
        assertArrayEquals(new long[] {2}, r.get(0).longs(), "sigmoid(-0.5) is below 0.5");
        assertArrayEquals(new float[] {(float) (1 / (1 + Math.exp(-2.0))), (float) (1 / (1 + Math.exp(-0.1f))), 0, 0, 0}, r.get(2).floats());
        assertEquals(Float.NEGATIVE_INFINITY, EfficientNmsOp.keyThreshold(0f, true));
        assertEquals(0f, EfficientNmsOp.keyThreshold(0.5f, true));
    }

    @Test void perClassBoxesAreReadPerClass() {
        // box 0 of class 0 and of class 1 differ; class 1's overlaps box 1 of class 1
        Tensor boxes = f32(new int[] {1, 2, 2, 4}, 0, 0, 1, 1, 5, 5, 6, 6, 9, 9, 10, 10, 5, 5, 6, 6);
        Tensor scores = f32(new int[] {1, 2, 2}, 0.9f, 0.8f, 0.7f, 0.6f);
        List<Tensor> r = nms(attrs(), boxes, scores);
        assertArrayEquals(new long[] {3}, r.get(0).longs());
        assertArrayEquals(new long[] {0, 1, 0, 0, 0}, r.get(3).longs());
        assertArrayEquals(new float[] {0, 0, 1, 1, 5, 5, 6, 6, 9, 9, 10, 10}, java.util.Arrays.copyOf(r.get(1).floats(), 12));
    }

    @Test void equalScoresKeepTheLowerFlatIndexFirst() {
        Tensor boxes = f32(new int[] {1, 3, 4}, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1);
        Tensor scores = f32(new int[] {1, 3, 1}, 0.5f, 0.5f, 0.5f);
        List<Tensor> r = nms(attrs(), Tensor.ofFloats(DType.F32, Shape.of(1, 3, 4), boxes.floats()), scores);
        assertArrayEquals(new long[] {1}, r.get(0).longs());
        assertArrayEquals(new int[] {0}, EfficientNmsOp.keep(boxes, scores, 0, EfficientNmsOp.params(attrs(), 1)));
    }

    @Test void onlyTheFirst4096CandidatesAreConsidered() {
        int n = 5000;
        float[] b = new float[n * 4], s = new float[n];
        for (int i = 0; i < n; i++) {
            b[4 * i] = 2 * i;
            b[4 * i + 1] = 0;
            b[4 * i + 2] = 2 * i + 1;
            b[4 * i + 3] = 1;
            s[i] = 1 - i / (2f * n);
        }
        List<Tensor> r = nms(attrs("max_output_boxes", n), f32(new int[] {1, n, 4}, b), f32(new int[] {1, n, 1}, s));
        assertArrayEquals(new long[] {EfficientNmsOp.MAX_CANDIDATES}, r.get(0).longs(), "disjoint boxes: all of the first 4096 are kept, no later one");
        assertEquals(s[EfficientNmsOp.MAX_CANDIDATES - 1], r.get(2).getFloat(EfficientNmsOp.MAX_CANDIDATES - 1));
        assertEquals(0f, r.get(2).getFloat(EfficientNmsOp.MAX_CANDIDATES));
    }

    @Test void outputsHaveTheScoresType() {
        Tensor boxes = Tensor.ofFloats(DType.F16, Shape.of(1, 4, 4), BOXES.floats().clone()), scores = Tensor.ofFloats(DType.F16, Shape.of(1, 4, 2), SCORES.floats().clone());
        List<Tensor> r = nms(attrs(), boxes, scores);
        assertEquals(DType.F16, r.get(1).dtype());
        assertEquals(DType.F16, r.get(2).dtype());
        assertArrayEquals(new long[] {4}, r.get(0).longs());
    }

    @Test void badInputsAndAttributesAreNamed() {
        Tensor anchors = f32(new int[] {1, 4, 4}, new float[16]);
        assertMessage(error(OP, attrs(), 4, BOXES, SCORES, anchors), "input anchors", "decode the boxes in the graph");
        assertMessage(error(OP, attrs(), 4, f32(new int[] {2, 4, 4}, new float[32]), SCORES), "input boxes has batch 2 but input scores has 1");
        assertMessage(error(OP, attrs(), 4, f32(new int[] {1, 3, 4}, new float[12]), SCORES), "input boxes has 3 boxes but input scores has 4");
        assertMessage(error(OP, attrs(), 4, f32(new int[] {1, 4, 3, 4}, new float[48]), SCORES), "input boxes has 3 classes but input scores has 2");
        assertMessage(error(OP, attrs(), 4, f32(new int[] {4, 4}, new float[16]), SCORES), "input boxes must be [batch, boxes, 4]");
        assertMessage(error(OP, attrs(), 4, f32(new int[] {1, 4, 5}, new float[20]), SCORES), "input boxes' last axis must hold 4 coordinates");
        assertMessage(error(OP, attrs(), 4, BOXES, f32(new int[] {4, 2}, new float[8])), "input scores must be [batch, boxes, classes]");
        assertMessage(error(OP, attrs("max_output_boxes", 0), 4, BOXES, SCORES), "node", "attribute 'max_output_boxes' must be at least 1, got 0");
        assertMessage(error(OP, attrs("iou_threshold", 1.5f), 4, BOXES, SCORES), "attribute 'iou_threshold' must be in [0, 1], got 1.5");
        assertMessage(error(OP, attrs("plugin_version", "2"), 4, BOXES, SCORES), "attribute 'plugin_version' is '2'");
        assertMessage(error(OP, attrs("box_coding", 2), 4, BOXES, SCORES), "attribute 'box_coding' must be 0 (corners) or 1");
        assertMessage(error(OP, attrs("background_class", 2), 4, BOXES, SCORES), "attribute 'background_class' is 2");
        assertMessage(error(OP, attrs("score_activation", 3), 4, BOXES, SCORES), "attribute 'score_activation' must be 0 or 1");
        assertMessage(error(OP, attrs(), 4, Tensor.ofFloats(DType.F16, Shape.of(1, 4, 4), BOXES.floats().clone()), SCORES), "input boxes is f16 but input scores is f32");
    }

    @Test void textIrRoundTripsTheOpWithItsFourOutputs() {
        org.tessel.ir.NetworkBuilder nb = new org.tessel.ir.NetworkBuilder("det");
        org.tessel.ir.Value boxes = nb.input("boxes", DType.F32, 1, 4, 4), scores = nb.input("scores", DType.F32, 1, 4, 2);
        org.tessel.ir.Node n = nb.node(OP, "nms", attrs("class_agnostic", 1, "background_class", 0), 4, boxes, scores);
        org.tessel.ir.Graph g = nb.output(n.outputs().toArray(org.tessel.ir.Value[]::new)).build();
        String text = org.tessel.ir.text.IrPrinter.print(g);
        assertTrue(text.contains("= TRT.EfficientNMS_TRT(%boxes, %scores) {"), text);
        assertTrue(text.contains(": i32[1,1], f32[1,5,4], f32[1,5], i32[1,5]"), text);
        org.tessel.ir.Graph back = org.tessel.ir.text.IrParser.parse(text, "nms.tir");
        org.tessel.ir.text.GraphEquality.assertEqual(g, back);
        assertEquals(text, org.tessel.ir.text.IrPrinter.print(back));
        var in = java.util.Map.of("boxes", BOXES, "scores", SCORES);
        var want = new org.tessel.ir.ReferenceInterpreter().run(g, in);
        var got = new org.tessel.ir.ReferenceInterpreter().run(back, in);
        for (String k : want.keySet()) assertTrue(want.get(k).dataEquals(got.get(k)), k);
    }

    // ---- properties ----------------------------------------------------------------------------

    @Property(tries = 150)
    void keptBoxesAreOrderedSeparatedAndEveryOtherCandidateSuppressed(@ForAll @IntRange(min = 1, max = 2) int batch, @ForAll @IntRange(min = 1, max = 40) int n,
                                                                       @ForAll @IntRange(min = 1, max = 4) int c, @ForAll @IntRange(min = 1, max = 30) int m,
                                                                       @ForAll @IntRange(min = 0, max = 1) int agnostic, @ForAll @IntRange(min = 0, max = 1) int perClass,
                                                                       @ForAll @IntRange(min = 0, max = 100000) int seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] b = new float[batch * n * (perClass == 1 ? c : 1) * 4], s = new float[batch * n * c];
        for (int i = 0; i < b.length; i++) b[i] = rnd.nextInt(12);            // small integer grid: overlaps, flips and empty boxes
        for (int i = 0; i < s.length; i++) s[i] = rnd.nextInt(8) / 8f;        // few values: many ties
        Tensor boxes = perClass == 1 ? f32(new int[] {batch, n, c, 4}, b) : f32(new int[] {batch, n, 4}, b), scores = f32(new int[] {batch, n, c}, s);
        float iouThr = rnd.nextInt(5) / 4f;
        Attributes a = attrs("score_threshold", 0.3f, "iou_threshold", iouThr, "max_output_boxes", m, "class_agnostic", agnostic);
        EfficientNmsOp.Params p = EfficientNmsOp.params(a, c);
        List<Tensor> r = nms(a, boxes, scores);
        for (int img = 0; img < batch; img++) {
            int[] kept = EfficientNmsOp.keep(boxes, scores, img, p);
            int num = (int) r.get(0).getLong(img);
            assertEquals(kept.length, num);
            assertTrue(num <= m, "num_detections <= M");
            for (int k = 1; k < num; k++) {
                float prev = s[img * n * c + kept[k - 1]], cur = s[img * n * c + kept[k]];
                assertTrue(prev > cur || prev == cur && kept[k - 1] < kept[k], "kept in score order, ties by flat index");
            }
            for (int i = 0; i < num; i++) {
                float[] bi = EfficientNmsOp.box(boxes, img, kept[i], n, c, false);
                assertEquals(kept[i] % c, r.get(3).getLong(img * m + i));
                assertEquals(s[img * n * c + kept[i]], r.get(2).getFloat(img * m + i));
                for (int j = 0; j < 4; j++) assertEquals(bi[j], r.get(1).getFloat((img * m + i) * 4 + j));
                for (int k = 0; k < i; k++)
                    if (agnostic == 1 || kept[k] % c == kept[i] % c)
                        assertTrue(EfficientNmsOp.iou(EfficientNmsOp.box(boxes, img, kept[k], n, c, false), bi) <= iouThr, "kept boxes of a class overlap at most iou_threshold");
            }
            for (int i = num; i < m; i++) {
                assertEquals(0, r.get(3).getLong(img * m + i));
                assertEquals(0f, r.get(2).getFloat(img * m + i));
                for (int j = 0; j < 4; j++) assertEquals(0f, r.get(1).getFloat((img * m + i) * 4 + j));
            }
            // every candidate not kept, before the walk stopped, is suppressed by a kept one of its class ranked before it
            java.util.Set<Integer> keptSet = new java.util.HashSet<>();
            for (int f : kept) keptSet.add(f);
            int rank = 0;
            for (int f : candidatesInOrder(s, img, n, c)) {
                if (num == m && rank >= lastRank(kept, s, img, n, c)) break;
                rank++;
                if (keptSet.contains(f)) continue;
                float[] bf = EfficientNmsOp.box(boxes, img, f, n, c, false);
                boolean suppressed = false;
                for (int k : kept)
                    if (before(s, img, n, c, k, f) && (agnostic == 1 || k % c == f % c) && EfficientNmsOp.iou(EfficientNmsOp.box(boxes, img, k, n, c, false), bf) > iouThr) suppressed = true;
                assertTrue(suppressed, "candidate " + f + " is neither kept nor suppressed");
            }
        }
    }

    private static boolean before(float[] s, int img, int n, int c, int a, int b) {
        float sa = s[img * n * c + a], sb = s[img * n * c + b];
        return sa > sb || sa == sb && a < b;
    }

    private static List<Integer> candidatesInOrder(float[] s, int img, int n, int c) {
        List<Integer> out = new java.util.ArrayList<>();
        for (int f = 0; f < n * c; f++) if (s[img * n * c + f] > 0.3f) out.add(f);
        out.sort((x, y) -> before(s, img, n, c, x, y) ? -1 : x.equals(y) ? 0 : 1);
        return out;
    }

    /** The rank, in candidate order, of the last kept candidate (the walk stops after it when M is reached). */
    private static int lastRank(int[] kept, float[] s, int img, int n, int c) {
        return kept.length == 0 ? 0 : candidatesInOrder(s, img, n, c).indexOf(kept[kept.length - 1]) + 1;
    }
}

package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.EfficientNmsOp;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * {@code tessel.nms.efficient} ({@link NmsLayers}, nms.cu) in GPU engines against the reference interpreter. An engine of one
 * EfficientNMS_TRT node per case: at FP32 all four outputs equal the reference's bit for bit; at FP16 and BF16 on inputs
 * rounded to the storage type (the reference too), the counts, classes and corner boxes equal it and the scores (and
 * center-size boxes) are within the type's rounding. The cases: ties, more than 4096 candidates (SSDlite320's 3234 anchors x
 * 91 classes at batch 2, threshold 0.001; 5000 equal scores), class_agnostic, background_class, box_coding 1,
 * score_activation, per-class boxes, M reached early, no candidate. Then a small detector head (transposes, a box decode,
 * a softmax) ending in the NMS, whose NMS outputs equal the reference's NMS of the engine's own boxes and scores. Prints
 * RESULT| lines. Runs on a GPU, or on the emulated device ({@code -Dtessel.excludedGroups=none -Dtessel.test.device=emulated}).
 */
@Tag("gpu")
class NmsLayersGpuTest {
    record Case(String name, Graph graph, Map<String, Tensor> inputs) {}

    static Attributes attrs(float score, float iou, int m, int background, boolean activation, boolean agnostic, boolean centerSize) {
        return Attributes.builder().put("score_threshold", score).put("iou_threshold", iou).put("max_output_boxes", (long) m).put("background_class", (long) background)
                .put("score_activation", activation ? 1L : 0L).put("class_agnostic", agnostic ? 1L : 0L).put("box_coding", centerSize ? 1L : 0L).build();
    }

    /** A graph of one NMS node over inputs boxes and scores, its outputs num, boxes, scores, classes. */
    static Graph nmsGraph(String name, int[] boxDims, int[] scoreDims, Attributes a) {
        NetworkBuilder b = new NetworkBuilder(name);
        Value boxes = b.input("boxes", DType.F32, boxDims), scores = b.input("scores", DType.F32, scoreDims);
        Node n = b.node(EfficientNmsOp.QUALIFIED_NAME, "nms", a, 4, boxes, scores);
        for (Value v : n.outputs()) b.output(v);
        return b.build();
    }

    /** The names of the NMS node's outputs: count, boxes, scores, classes. */
    static List<String> nmsOutputs(Graph g) {
        return g.nodes().stream().filter(n -> n.opName().equals(EfficientNmsOp.QUALIFIED_NAME)).findFirst().orElseThrow().outputs().stream().map(Value::name).toList();
    }

    /** Boxes on a small integer grid (overlaps, flips, empty boxes) and scores from {@code levels} values in [0, 1) (ties). */
    static Case random(String name, long seed, int batch, int n, int c, boolean perClass, int levels, Attributes a) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] bd = perClass ? new int[] {batch, n, c, 4} : new int[] {batch, n, 4}, sd = {batch, n, c};
        float[] boxes = new float[java.util.Arrays.stream(bd).reduce(1, (x, y) -> x * y)], scores = new float[batch * n * c];
        for (int i = 0; i < boxes.length; i++) boxes[i] = r.nextInt(40) * 0.5f;
        for (int i = 0; i < scores.length; i++) scores[i] = r.nextInt(levels) / (float) levels;
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("boxes", Tensor.ofFloats(DType.F32, Shape.of(bd), boxes));
        in.put("scores", Tensor.ofFloats(DType.F32, Shape.of(sd), scores));
        return new Case(name, nmsGraph(name, bd, sd, a), in);
    }

    static List<Case> cases() {
        List<Case> cs = new ArrayList<>();
        cs.add(random("ties", 1, 2, 200, 5, false, 16, attrs(0.3f, 0.5f, 50, -1, false, false, false)));
        cs.add(random("ssdlite320 shape, threshold 0.001", 2, 2, 3234, 91, false, 1 << 14, attrs(0.001f, 0.55f, 300, 0, false, false, false)));
        cs.add(random("class_agnostic", 3, 1, 300, 4, false, 64, attrs(0.2f, 0.4f, 100, -1, false, true, false)));
        cs.add(random("background_class 2", 4, 2, 150, 3, false, 32, attrs(0.1f, 0.5f, 60, 2, false, false, false)));
        cs.add(random("box_coding 1", 5, 2, 150, 3, false, 32, attrs(0.1f, 0.5f, 60, -1, false, false, true)));
        cs.add(random("per-class boxes", 6, 2, 120, 3, true, 32, attrs(0.1f, 0.6f, 80, -1, false, false, false)));
        cs.add(random("M reached early", 7, 2, 500, 2, false, 256, attrs(0.05f, 0.9f, 3, -1, false, false, false)));
        cs.add(random("no candidate", 8, 2, 100, 3, false, 16, attrs(1f, 0.5f, 10, -1, false, false, false)));
        // logits in [-4, 4): the threshold moves to logit(0.3), the kept scores are sigmoids
        Case logits = random("score_activation", 9, 2, 200, 4, false, 64, attrs(0.3f, 0.5f, 40, -1, true, false, false));
        Tensor s = logits.inputs().get("scores");
        float[] l = new float[s.size()];
        for (int i = 0; i < l.length; i++) l[i] = s.getFloat(i) * 8 - 4;
        logits.inputs().put("scores", Tensor.ofFloats(DType.F32, s.shape(), l));
        cs.add(logits);
        // 5000 equal scores: the 4096 of lowest index are the candidates considered
        Case equal = random("5000 equal scores", 10, 1, 5000, 1, false, 16, attrs(0.25f, 0.5f, 1000, -1, false, false, false));
        float[] half = new float[5000];
        java.util.Arrays.fill(half, 0.5f);
        equal.inputs().put("scores", Tensor.ofFloats(DType.F32, Shape.of(1, 5000, 1), half));
        cs.add(equal);
        return cs;
    }

    static Tensor rounded(Tensor t, DType to) {
        float[] v = new float[t.size()];
        for (int i = 0; i < v.length; i++) v[i] = Tensor.round(to, t.getFloat(i));
        return Tensor.ofFloats(DType.F32, t.shape(), v);
    }

    /** Where got differs from want: counts and classes exactly, floats exactly or (tolerant) within the storage type's rounding. */
    static String mismatch(Map<String, Tensor> got, List<String> gotNames, Map<String, Tensor> want, List<String> wantNames, DType storage) {
        for (int k : new int[] {0, 3}) {
            String o = wantNames.get(k), go = gotNames.get(k);
            for (int i = 0; i < want.get(o).size(); i++)
                if (got.get(go).getLong(i) != want.get(o).getLong(i)) return "%" + o + "[" + i + "] " + got.get(go).getLong(i) + " vs " + want.get(o).getLong(i);
        }
        for (int k : new int[] {1, 2}) {
            String o = wantNames.get(k), go = gotNames.get(k);
            for (int i = 0; i < want.get(o).size(); i++) {
                float g = got.get(go).getFloat(i), w = want.get(o).getFloat(i);
                boolean ok = storage == DType.F32 ? Float.floatToIntBits(g) == Float.floatToIntBits(w) : g == Tensor.round(storage, w);
                if (!ok) return "%" + o + "[" + i + "] " + g + " vs " + w;
            }
        }
        return null;
    }

    @Test void theNmsLayerEqualsTheReference() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        List<String> failures = new ArrayList<>();
        for (Case c : cases())
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
                DType st = p.storage();
                Map<String, Tensor> in = new LinkedHashMap<>(c.inputs());
                if (st != DType.F32) in.replaceAll((k, t) -> rounded(t, st));
                Map<String, Tensor> want = GpuTestSupport.reference(c.graph(), in);
                String why;
                try (GpuEngine e = GpuEngine.build(c.graph(), p, ctx); GpuExecutionContext x = e.createExecutionContext()) {
                    assertEquals(GpuTactics.NMS_EFFICIENT, ZooEngineGpuTest.tactics(e).keySet().iterator().next());
                    List<String> names = nmsOutputs(c.graph());
                    why = mismatch(x.run(in), names, want, names, st);
                }
                System.out.printf("RESULT|EfficientNMS %s %s|%d detections|%s%n", c.name(), p, want.get(nmsOutputs(c.graph()).get(0)).getLong(0), why == null ? "equal" : why);
                if (why != null) failures.add(c.name() + " " + p + ": " + why);
            }
        assertEquals(List.of(), failures);
    }

    /** Transposes, a box decode and a softmax over classes ending in the NMS, as a detector's head does. */
    static Graph detector() {
        NetworkBuilder b = new NetworkBuilder("detector");
        int anchors = 400, classes = 6;
        Value loc = b.input("loc", DType.F32, 2, 4, 20, 20), conf = b.input("conf", DType.F32, 2, classes, 20, 20);
        Value deltas = b.reshape(b.transpose(loc, 0, 2, 3, 1), 2, anchors, 4);
        Value boxes = b.name("boxes").add(b.mul(deltas, b.uniformWeights("scale", 0.5f, 2f, anchors, 4)), b.uniformWeights("anchors", 0, 20, anchors, 4));
        Value scores = b.name("scores").softmax(b.reshape(b.transpose(conf, 0, 2, 3, 1), 2, anchors, classes), -1);
        Node n = b.node(EfficientNmsOp.QUALIFIED_NAME, "nms", attrs(0.2f, 0.5f, 50, 0, false, false, false), 4, boxes, scores);
        b.output(boxes);
        b.output(scores);
        for (Value v : n.outputs()) b.output(v);
        return b.build();
    }

    /**
     * The zoo's ssdlite-nms (SSDLite-MobileNetV2, 1917 anchors x 91 classes, ending in the NMS) at batch 2 through each
     * precision's pipeline as a GPU engine, its decoded boxes and scores added as outputs: the engine's detections equal
     * the reference NMS of those boxes and scores, and the NMS layer's median time is printed beside its price. A GPU only
     * (its convolutions need cuDNN, which the emulated device has not).
     */
    @Test void theZoosSsdliteNmsDetectsAsTheReferenceOfItsOwnScores() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        org.junit.jupiter.api.Assumptions.assumeFalse(GpuTestSupport.emulated(), "ssdlite-nms's convolutions need cuDNN, which the emulated device has not");
        Graph model = org.tessel.ir.zoo.Zoo.build("ssdlite-nms", org.tessel.ir.zoo.ZooOptions.defaults().withBatch(2));
        Node nms = model.nodes().stream().filter(n -> n.opName().equals(EfficientNmsOp.QUALIFIED_NAME)).findFirst().orElseThrow();
        model.addOutput(nms.input(0));
        model.addOutput(nms.input(1));
        Map<String, Tensor> in = Map.of("image", GpuTestSupport.random(new SplittableRandom(13), DType.F32, Shape.of(2, 3, 300, 300), -2, 2));
        Graph reference = nmsGraph("nms", new int[] {2, 1917, 4}, new int[] {2, 1917, 91}, nms.attrs());
        List<String> failures = new ArrayList<>();
        for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16)) {
            Graph g = model.copy();
            new org.tessel.passes.PassManager().run(g, GpuEngine.pipeline(p, g));
            List<String> outs = g.outputs().stream().map(Value::name).toList();   // count, boxes, scores, classes, then the NMS's inputs
            try (GpuEngine e = GpuEngine.build(g, p, ctx); GpuExecutionContext x = e.createExecutionContext()) {
                // eager (no captured graph): profileLayers times each layer alone, which a replayed graph cannot
                Map<String, Tensor> got = x.run(in);
                // the NMS reads its inputs in the storage type (rounded there, should a pass have left them f32)
                Tensor boxes = rounded(GpuTestSupport.asF32(got.get(outs.get(4))), p.storage()), scores = rounded(GpuTestSupport.asF32(got.get(outs.get(5))), p.storage());
                Map<String, Tensor> want = GpuTestSupport.reference(reference, Map.of("boxes", boxes, "scores", scores));
                String why = mismatch(got, outs.subList(0, 4), want, nmsOutputs(reference), p.storage());
                double ms = x.profileLayers(3, 20).stream().filter(t -> t.plan().tactic().startsWith(GpuTactics.NMS_EFFICIENT)).mapToDouble(GpuExecutionContext.LayerTime::medianMs).sum();
                System.out.printf("RESULT|EfficientNMS ssdlite-nms b2 %s|%d, %d detections, NMS layer %.1f us|%s%n", p, want.get(nmsOutputs(reference).get(0)).getLong(0),
                        want.get(nmsOutputs(reference).get(0)).getLong(1), ms * 1e3, why == null ? "equal" : why);
                if (why != null) failures.add(p + ": " + why);
            }
        }
        assertEquals(List.of(), failures);
    }

    @Test void aDetectorEngineEndsInTheNms() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph g = detector();
        SplittableRandom r = new SplittableRandom(11);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("loc", GpuTestSupport.random(r, DType.F32, 2, 4, 20, 20));
        in.put("conf", GpuTestSupport.random(r, DType.F32, Shape.of(2, 6, 20, 20), -3, 3));
        for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16)) {
            try (GpuEngine e = GpuEngine.build(g, p, ctx); GpuExecutionContext x = e.createExecutionContext()) {
                assertTrue(ZooEngineGpuTest.tactics(e).containsKey(GpuTactics.NMS_EFFICIENT), ZooEngineGpuTest.tactics(e).toString());
                for (boolean replay : new boolean[] {false, true}) {
                    if (replay) x.captureGraph();
                    Map<String, Tensor> got = x.run(in);
                    // the reference NMS of the engine's own boxes and scores (f16 values at FP16)
                    Graph nms = nmsGraph("nms", new int[] {2, 400, 4}, new int[] {2, 400, 6}, attrs(0.2f, 0.5f, 50, 0, false, false, false));
                    Map<String, Tensor> want = GpuTestSupport.reference(nms, Map.of("boxes", GpuTestSupport.asF32(got.get(g.outputs().get(0).name())),
                            "scores", GpuTestSupport.asF32(got.get(g.outputs().get(1).name()))));
                    Tensor num = want.get(nmsOutputs(nms).get(0));
                    String why = mismatch(got, nmsOutputs(g), want, nmsOutputs(nms), p.storage());
                    System.out.printf("RESULT|EfficientNMS detector engine %s%s|%d, %d detections|%s%n", p, replay ? " graph" : "", num.getLong(0), num.getLong(1),
                            why == null ? "equal" : why);
                    assertEquals(null, why, p + (replay ? " graph" : " eager"));
                    assertTrue(num.getLong(0) > 0, "the head detects something");
                }
            }
        }
    }
}

package org.tessel.tactics.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.cpu.CpuReferenceTactic;

/** tessel.nms.efficient: what it takes, and that its honest price still beats the host reference's round trip. */
class EfficientNmsTacticTest {
    static Node nms(DType t, int batch, int boxes, int classes, int m) {
        NetworkBuilder b = new NetworkBuilder("det");
        return b.node("TRT.EfficientNMS_TRT", "nms", Attributes.builder().put("score_threshold", 0.001f).put("iou_threshold", 0.55f).put("max_output_boxes", (long) m)
                .put("background_class", 0L).build(), 4, b.input("boxes", t, batch, boxes, 4), b.input("scores", t, batch, boxes, classes));
    }

    @Test void runsFloatPrecisionsInTheCatalogue() {
        Node n = nms(DType.F32, 1, 100, 3, 10);
        TacticCatalog cat = TacticCatalog.builtin();
        for (Precision p : List.of(Precision.FP32, Precision.FP16, Precision.BF16))
            assertTrue(cat.supported(n, p, Layout.NCHW).contains(EfficientNmsTactic.EFFICIENT), p.text());
        assertTrue(EfficientNmsTactic.EFFICIENT.whyNot(n, Precision.INT8, Layout.NCHW).contains("supports"), EfficientNmsTactic.EFFICIENT.whyNot(n, Precision.INT8, Layout.NCHW));
        assertNull(EfficientNmsTactic.EFFICIENT.whyNot(n, Precision.FP16, Layout.NHWC));
    }

    /** SSDlite320's head (3234 anchors, 91 classes) at batch 1 and 2, and a small detector: the GPU kernel is the cheaper on an H100 and an L4. */
    @Test void theSearchNeverPrefersTheHostReference() {
        for (DeviceSpec d : List.of(DeviceSpec.h100Sxm(), DeviceSpec.l4())) {
            CostModel model = new CostModel(d);
            for (Node n : List.of(nms(DType.F32, 1, 3234, 91, 300), nms(DType.F32, 2, 3234, 91, 300), nms(DType.F32, 1, 100, 2, 10))) {
                double gpu = EfficientNmsTactic.EFFICIENT.cost(model, n, Precision.FP32, Layout.NCHW, false).totalUs();
                double cpu = CpuReferenceTactic.REFERENCE.cost(model, n, Precision.FP32, Layout.NCHW, false).totalUs();
                assertTrue(gpu < cpu, d.name() + " " + n.input(1).type() + ": GPU " + gpu + " us vs host " + cpu + " us");
                System.out.printf("EfficientNMS %s %s: GPU %.1f us (walk %.1f), host %.1f us%n", d.name(), n.input(1).type(), gpu, EfficientNmsTactic.walkUs(model, n), cpu);
            }
        }
    }

    /** The walk is a chain of tiles of 32 candidates: at least 10 on SSDlite320's head (300 detections), 1 on a detector of 10. */
    @Test void theWalkCostsATilePerThirtyTwoKeptBoxes() {
        CostModel h100 = new CostModel(DeviceSpec.h100Sxm());
        double big = EfficientNmsTactic.walkUs(h100, nms(DType.F32, 1, 3234, 91, 300)), small = EfficientNmsTactic.walkUs(h100, nms(DType.F32, 1, 100, 2, 10));
        assertEquals(10, big / small, 1e-9);
        assertEquals(Math.ceil(300 / 32.0) * EfficientNmsTactic.WALK_CYCLES_PER_TILE / (DeviceSpec.h100Sxm().boostClockGHz() * 1e3), big, 1e-9);
        assertEquals(big, EfficientNmsTactic.walkUs(h100, nms(DType.F32, 2, 3234, 91, 300)), 1e-9, "two images run side by side");
        double total = EfficientNmsTactic.EFFICIENT.cost(h100, nms(DType.F32, 1, 3234, 91, 300), Precision.FP16, Layout.NCHW, false).totalUs();
        assertTrue(total > big, total + " us");
    }

    @Test void readsTheScoresSixTimesPastFourThousandCandidates() {
        assertEquals(6, EfficientNmsTactic.scorePasses(nms(DType.F32, 1, 3234, 91, 300)));
        assertEquals(2, EfficientNmsTactic.scorePasses(nms(DType.F32, 1, 2048, 2, 300)));
        Tactic t = EfficientNmsTactic.EFFICIENT;
        assertTrue(t.features(nms(DType.F32, 1, 3234, 91, 300), Precision.FP32, Layout.NCHW).memoryEfficiency()
                < t.features(nms(DType.F32, 1, 100, 2, 10), Precision.FP32, Layout.NCHW).memoryEfficiency());
    }
}

package org.tessel.ir.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessel.api.Shape;
import org.tessel.ir.Graph;
import org.tessel.ir.Verifier;

/**
 * The full-size models at batch 1 and 4: they build, verify, have the published parameter count
 * and multiply-adds per example, and scale their cost (not their weights) with the batch. Build
 * and count only: the reference interpreter would take minutes on these.
 */
class FullModelStatsTest {
    record Counted(Graph graph, ModelStats stats) {}

    private static Counted buildAndCount(String model, ZooOptions o) {
        Graph g = Zoo.build(model, o);
        Verifier.verify(g);
        ModelStats s = ModelStats.of(g);
        assertTrue(s.macs() > 0, model + ": MACs are 0: Conv/Gemm/MatMul report no cost through OpSchema.macs (are the nn ops merged?)");
        assertEquals(2 * s.macs(), s.flops());
        return new Counted(g, s);
    }

    private static void assertNear(String what, double expected, double actual, double tolerance) {
        double rel = Math.abs(actual - expected) / expected;
        assertTrue(rel <= tolerance, String.format("%s: %.6g, published %.6g (%.2f%% off, tolerance %.0f%%)",
                what, actual, expected, 100 * rel, 100 * tolerance));
    }

    /** Checks batch 1 against the published figures and batch 4 against batch 1; returns batch 1's stats. */
    private static ModelStats check(String model, double tolerance, Shape outPerExample) {
        ModelCard.Reference ref = Zoo.describe(model).reference();
        Counted one = buildAndCount(model, ZooOptions.defaults());
        assertNear(model + " parameters", ref.parameters(), one.stats().parameters(), tolerance);
        assertNear(model + " MACs", ref.macs().orElseThrow(), one.stats().macs(), tolerance);
        assertEquals(outPerExample, one.graph().outputs().get(0).type().shape().withDim(0, 1));
        ModelStats stats = one.stats();
        one = null;   // let the batch-1 weights go before building batch 4
        Counted four = buildAndCount(model, ZooOptions.defaults().withBatch(4));
        assertEquals(stats.parameters(), four.stats().parameters(), model + ": weights do not depend on the batch");
        assertEquals(4 * stats.macs(), four.stats().macs(), model + ": cost scales with the batch");
        assertEquals(stats.opHistogram(), four.stats().opHistogram(), model + ": same structure at any batch");
        assertEquals(4, four.graph().outputs().get(0).type().shape().dim(0));
        return stats;
    }

    @Test
    void resnet50() { check("resnet50", 0.02, Shape.of(1, 1000)); }

    @Test
    void mobilenetv2() { check("mobilenetv2", 0.05, Shape.of(1, 1000)); }

    @Test
    void googlenet() {
        ModelStats s = check("googlenet", 0.05, Shape.of(1, 1000));
        // the task's rough figures: 6.6-7 M parameters, about 1.5 G multiply-adds
        assertTrue(s.parameters() > 6.6e6 * 0.95 && s.parameters() < 7.0e6 * 1.05, s.toString());
        assertNear("googlenet MACs vs ~1.5 G", 1.5e9, s.macs(), 0.06);
    }

    @Test
    void vit() { check("vit", 0.05, Shape.of(1, 1000)); }

    @Test
    void bertBase() {
        ModelStats s = check("bert-base", 0.05, Shape.of(1, 128, 768));
        assertNear("bert-base parameters vs ~110 M", 110e6, s.parameters(), 0.01);
    }

    /** BERT's multiply-adds follow from its shape; check the count at another length and depth. */
    @Test
    void bertCostFollowsSequenceLengthAndDepth() {
        int layers = 2, seq = 64, d = 768, ffn = 3072, batch = 3;
        Counted c = buildAndCount("bert-base", new ZooOptions(batch, seq, layers, 1));
        long perLayer = (long) seq * (4L * d * d + 2L * d * ffn) + 2L * seq * seq * d;
        long expected = batch * (layers * perLayer + (long) d * d);
        assertEquals(expected, c.stats().macs(), "projections, attention scores and context, FFN, pooler");
        long params = 30522L * d + 512L * d + 2L * d + 2L * d + layers * (4L * (d * d + d) + 2L * d * ffn + ffn + d + 4L * d) + d * d + d;
        assertEquals(params, c.stats().parameters());
        assertEquals(Shape.of(batch, seq, d), c.graph().outputs().get(0).type().shape());
    }
}

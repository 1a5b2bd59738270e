package org.tessel.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.Tuner;
import org.tessel.search.domain.Choice;

/**
 * Measure, then solve: the tuner is asked for the k best predictions per node and format only, identical nodes
 * once, and its measurements decide the plan. The tuner here is a table (the device's stand-in for this CPU test;
 * the GPU tuner is tested on the GPU).
 */
class TunedCostingTest {
    /** Answers from a rule, counting the questions. */
    static final class TableTuner implements Tuner {
        /** A table entry saying the tactic fails when run. */
        static final double FAILS = -42;
        final List<String> asked = new ArrayList<>();
        /** Per question: the node's key with the precision and layout asked (the tactic left out). */
        final List<String> formats = new ArrayList<>();
        final java.util.function.Function<String, Double> us;
        TableTuner(java.util.function.Function<String, Double> us) { this.us = us; }
        @Override public Timing time(Node n, String tacticId, Precision p, Layout l) {
            String q = n.opName() + " " + tacticId + " " + p.text() + " " + l.text();
            asked.add(MeasuredCosts.key(n) + " " + tacticId + " " + p + " " + l);
            formats.add(MeasuredCosts.key(n) + " " + p + " " + l);
            Double v = us.apply(q);
            if (v != null && v == FAILS) return new Timing.Failed("wrote NaN where the reference interpreter does not (output 0, element 3)");
            return Timing.of(v == null ? OptionalDouble.empty() : OptionalDouble.of(v));
        }
        @Override public String describe() { return "a table"; }
    }

    private static CatalogCosting model() { return new CatalogCosting(TacticCatalog.global(), new CostModel(DeviceSpec.byName("h200-measured")), true); }

    private static SearchOptions options() { return SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16)); }

    @Test void onlyTheBestKPerFormatAreMeasuredAndIdenticalNodesOnce() {
        Graph g = Searcher.prepare(Zoo.build("resnet50-tiny", ZooOptions.defaults()));
        TableTuner t = new TableTuner(q -> 5.0);
        TunedCosting costing = new TunedCosting(model(), t, 1);
        SearchProblem p = Searcher.problem(g, costing, options());
        assertEquals(t.asked.size(), new java.util.HashSet<>(t.asked).size(), "nothing measured twice");
        assertEquals(t.asked.size(), costing.timed());
        // top-1: one question per (node or fused candidate, precision, layout)
        java.util.Map<String, Long> perFormat = t.formats.stream().collect(java.util.stream.Collectors.groupingBy(q -> q, java.util.stream.Collectors.counting()));
        assertTrue(perFormat.values().stream().allMatch(c -> c == 1), perFormat.toString());
        assertTrue(costing.choicesOverridden() > 0);
        assertTrue(p.size() > 0);
    }

    @Test void measurementsDecideThePlan() {
        Graph g = Searcher.prepare(Zoo.build("resnet50-tiny", ZooOptions.defaults()));
        // the device says FP32 convolutions are very slow and FP16 ones fast: the plan follows the measurements
        TableTuner t = new TableTuner(q -> q.startsWith("Conv ") || q.startsWith("tessel.Fused ") ? (q.contains(" fp16 ") ? 0.5 : 5000.0) : null);
        SearchProblem tuned = Searcher.problem(g, new TunedCosting(model(), t, 3), options());
        Plan plan = Searcher.run(tuned, "joint", options());
        int fp16Convs = 0, convs = 0;
        for (int i = 0; i < tuned.size(); i++) {
            String op = tuned.node(i).op();
            if (!op.equals("Conv")) continue;
            convs++;
            if (plan.assignment().format(i).precision() == Precision.FP16) fp16Convs++;
        }
        assertTrue(convs > 0);
        assertEquals(convs, fp16Convs, "every convolution runs FP16 once the device says FP32 convolutions are slow");
        // without the tuner, the model's own prices keep this tiny network's convolutions at FP32 (launch-bound)
        SearchProblem predicted = Searcher.problem(g, model(), options());
        Plan p2 = Searcher.run(predicted, "joint", options());
        int fp32Predicted = 0;
        for (int i = 0; i < predicted.size(); i++) if (predicted.node(i).op().equals("Conv") && p2.assignment().format(i).precision() == Precision.FP32) fp32Predicted++;
        assertTrue(fp32Predicted > 0, "the cost model alone keeps some convolutions at FP32");
    }

    @Test void aTacticThatFailsWhenMeasuredIsDroppedAndTheNodeFallsBack() {
        Graph g = Searcher.prepare(Zoo.build("resnet50-tiny", ZooOptions.defaults()));
        // cuDNN's FP16 convolution "fails" on this device (as a broken plugin kernel would); FP32 measures fine
        TableTuner t = new TableTuner(q -> q.contains("cudnn.conv.fused_bias_act") ? (q.contains(" fp16 ") ? TableTuner.FAILS : 5.0) : null);
        TunedCosting costing = new TunedCosting(model(), t, 1);
        SearchProblem tuned = Searcher.problem(g, costing, options());
        Plan plan = Searcher.run(tuned, "joint", options());
        assertFalse(costing.failures().isEmpty());
        for (String f : costing.failures())
            assertTrue(f.contains("cudnn.conv.fused_bias_act fp16/") && f.contains("failed on a table: wrote NaN"), f);
        // each convolution falls back: to cuDNN's FP32 form, or to another tactic at FP16 (the im2col matmul)
        int convs = 0;
        for (int i = 0; i < tuned.size(); i++) {
            Choice c = plan.assignment().choices()[i];
            if (c.tacticId().equals("cudnn.conv.fused_bias_act") && c.precision() == Precision.FP16) fail("chose a failed tactic: " + c);
            if (tuned.node(i).op().equals("Conv") || c.tacticId().startsWith("cudnn.conv") || c.tacticId().startsWith("cublaslt.conv")) convs++;
        }
        assertTrue(convs > 0, "the convolutions fall back to another choice");
    }

    @Test void reformatsAreMeasuredOncePerTypeWhereTheTunerCan() {
        java.util.List<org.tessel.api.TensorType> asked = new java.util.ArrayList<>();
        Tuner t = new Tuner() {
            @Override public Timing time(Node n, String tacticId, Precision p, Layout l) { return Timing.NOT_MEASURED; }
            @Override public OptionalDouble reformatUs(org.tessel.api.TensorType type) {
                asked.add(type);
                return type.dtype() == org.tessel.api.DType.F16 ? OptionalDouble.of(123.0) : OptionalDouble.empty();
            }
            @Override public String describe() { return "a reformat table"; }
        };
        TunedCosting c = new TunedCosting(model(), t, 1);
        var f16 = org.tessel.api.TensorType.of(org.tessel.api.DType.F16, 1, 8, 4, 4);
        var f32 = org.tessel.api.TensorType.of(org.tessel.api.DType.F32, 1, 8, 4, 4);
        assertEquals(123.0, c.reformatUs(f16));
        assertEquals(123.0, c.reformatUs(f16));
        assertEquals(model().reformatUs(f32), c.reformatUs(f32), "not measured: the model's estimate");
        assertEquals(java.util.List.of(f16, f32), asked, "each type asked once");
        assertEquals(1, c.reformatsTimed());
    }

    @Test void castsAreMeasuredOncePerTypeAndTargetWhereTheTunerCan() {
        java.util.List<String> asked = new java.util.ArrayList<>();
        Tuner t = new Tuner() {
            @Override public Timing time(Node n, String tacticId, Precision p, Layout l) { return Timing.NOT_MEASURED; }
            @Override public OptionalDouble castUs(org.tessel.api.TensorType type, org.tessel.api.DType to) {
                asked.add(type.dtype().text() + "->" + to.text());
                return to == org.tessel.api.DType.BF16 ? OptionalDouble.of(7.5) : OptionalDouble.empty();
            }
            @Override public String describe() { return "a cast table"; }
        };
        TunedCosting c = new TunedCosting(model(), t, 1);
        var f16 = org.tessel.api.TensorType.of(org.tessel.api.DType.F16, 1, 8, 4, 4);
        assertEquals(7.5, c.castUs(f16, org.tessel.api.DType.BF16));
        assertEquals(7.5, c.castUs(f16, org.tessel.api.DType.BF16));
        assertEquals(model().castUs(f16, org.tessel.api.DType.F32), c.castUs(f16, org.tessel.api.DType.F32), "not measured: the model's estimate");
        assertEquals(java.util.List.of("f16->bf16", "f16->f32"), asked, "each type and target asked once");
        assertEquals(1, c.castsTimed());
    }

    @Test void aTunerReturningNonsenseIsNamed() {
        Graph g = Searcher.prepare(Zoo.build("resnet50-tiny", ZooOptions.defaults()));
        TableTuner t = new TableTuner(q -> -1.0);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Searcher.problem(g, new TunedCosting(model(), t, 1), options()));
        assertTrue(e.getMessage().contains("a table on ") && e.getMessage().contains("a measured time must be positive and finite, got -1.0 us"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TunedCosting(model(), t, 0));
    }

    /**
     * A tactic that prices its variants apart gets a choice per variant from the catalogue, each at its own prediction;
     * the tuner, which times a tactic as its builder runs it by default, is not asked about them, so a measurement of
     * one form never prices another.
     */
    @Test void choicesOfPricedVariantsKeepTheirPredictions() {
        Graph g = Searcher.prepare(Zoo.buildPagedDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new org.tessel.ir.zoo.PagedDecoderShape(4, 128, 8, 16, 40), 1));
        Node att = g.nodes().stream().filter(n -> n.opName().equals("tessel.PagedAttention")).findFirst().orElseThrow();
        List<Choice> priced = model().choices(att, 0, List.of(Layout.NCHW)).stream().filter(c -> c.supported() && c.tacticId().equals("tessel.attention.paged")).toList();
        java.util.Map<String, Choice> fp16 = new java.util.TreeMap<>();
        for (Choice c : priced) if (c.precision() == Precision.FP16) fp16.put(c.variant(), c);
        assertEquals(java.util.Set.of("mma", "tiled"), fp16.keySet(), priced.toString());
        assertTrue(fp16.get("mma").latencyPs() < fp16.get("tiled").latencyPs(), fp16.toString());
        assertTrue(priced.stream().filter(c -> c.precision() == Precision.BF16).allMatch(c -> c.variant().equals("tiled")), priced.toString());
        TableTuner t = new TableTuner(q -> 1.0);
        List<Choice> tuned = new TunedCosting(model(), t, 8).choices(att, 0, List.of(Layout.NCHW));
        assertFalse(t.asked.stream().anyMatch(q -> q.contains("tessel.attention.paged")), t.asked.toString());
        for (Choice c : tuned) if (c.supported() && c.tacticId().equals("tessel.attention.paged")) assertTrue(priced.contains(c), c + " kept its prediction");
    }
}

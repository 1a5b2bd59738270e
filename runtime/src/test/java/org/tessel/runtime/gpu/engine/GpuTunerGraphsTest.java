package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.CatalogCosting;
import org.tessel.search.SearchOptions;
import org.tessel.search.Searcher;
import org.tessel.search.TunedCosting;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.Tuner;

/**
 * The CPU half of {@link GpuTuner}: every node the search asks it to measure (graph nodes and fusion candidates,
 * in every layout asked) becomes a one-node graph that the GPU builder accepts and the reference interpreter runs,
 * with the node's output type (in the asked layout).
 */
class GpuTunerGraphsTest {
    /** Records what the search would have measured. */
    private static final class Recorder implements Tuner {
        final List<Node> nodes = new ArrayList<>();
        final List<Layout> layouts = new ArrayList<>();
        final List<String> tactics = new ArrayList<>();
        @Override public Timing time(Node n, String tacticId, Precision p, Layout l) {
            if (!GpuTuner.measures(n, tacticId)) return Timing.NOT_MEASURED; // as GpuTuner: other backends' tactics are not asked of the device
            nodes.add(n);
            tactics.add(tacticId + " " + p.text());
            layouts.add(l);
            return Timing.NOT_MEASURED;
        }
        @Override public String describe() { return "a recorder"; }
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet50-tiny", "mobilenetv2-tiny", "bert-tiny", "vit-tiny"})
    void everyQuestionBecomesARunnableOneNodeGraph(String model) {
        Graph g = Searcher.prepare(Zoo.build(model, ZooOptions.defaults()));
        Recorder r = new Recorder();
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16));
        Searcher.problem(g, new TunedCosting(new CatalogCosting(TacticCatalog.global(), new CostModel(DeviceSpec.byName("h200-measured")), true), r, 2), o);
        assertTrue(r.nodes.size() > 10, r.nodes.size() + " questions");
        Map<String, Integer> byOp = new HashMap<>();
        for (int i = 0; i < r.nodes.size(); i++) {
            Node n = r.nodes.get(i);
            Layout l = r.layouts.get(i);
            Graph alone = GpuTuner.alone(n, l);
            assertEquals(1, alone.nodes().size(), n.describe());
            Node m = alone.nodes().get(0);
            assertEquals(n.output().type().shape(), m.output().type().shape(), n.describe());
            if (org.tessel.tactics.NodeFacts.layoutMatters(n) && m.output().type().rank() == 4 && l != Layout.ANY)
                assertEquals(l, m.output().type().layout(), n.describe() + " in " + l);
            try {
                GpuEngine.requireSupported(alone);
            } catch (GpuEngineException e) {
                throw new AssertionError("asked to measure " + r.tactics.get(i) + ": " + e.getMessage(), e);
            }
            List<Tensor> in = GpuEngineBench.inputs(alone, new SplittableRandom(3), -1, 1);
            Map<String, Tensor> named = new HashMap<>();
            for (int k = 0; k < in.size(); k++) named.put(alone.inputs().get(k).name(), in.get(k));
            Tensor out = new ReferenceInterpreter().run(alone, named).values().iterator().next();
            assertEquals(n.output().type().numElements(), out.size(), n.describe());
            byOp.merge(n.opName().equals("tessel.Fused") ? "Fused " + n.attrs().getString("kind", "") : n.opName(), 1, Integer::sum);
        }
        System.out.println(model + ": " + r.nodes.size() + " measurement questions, by op " + byOp);
    }

    @org.junit.jupiter.api.Test void aReformatAloneIsAGraphTheBuilderTakesAndTheReferenceRuns() {
        Graph g = GpuTuner.reformatAlone(org.tessel.api.TensorType.of(org.tessel.api.DType.F16, 2, 3, 4, 5));
        GpuEngine.requireSupported(g);
        assertEquals(org.tessel.api.Layout.NHWC, g.outputs().get(0).type().layout());
        assertEquals(org.tessel.api.DType.F32, g.inputs().get(0).type().dtype(), "graph inputs are f32; the engine stores them in its precision");
        assertEquals(org.tessel.runtime.gpu.engine.GpuTactics.REFORMAT, TacticImplementations.loaded().rule(null, g.nodes().get(0)).tactic());
        Tensor out = new ReferenceInterpreter().run(g, Map.of("x", GpuEngineBench.inputs(g, new SplittableRandom(1), -1, 1).get(0))).values().iterator().next();
        assertEquals(120, out.size());
    }

    /**
     * The RGB stem reading the network's input is timed as an engine runs it: the NCHW input, its reformat to NHWC (which
     * the stem absorbs), then the convolution; the same values as the node alone. Only that question takes this form.
     */
    @org.junit.jupiter.api.Test void theStemOnTheNetworkInputIsTimedOnThatInput() {
        Graph g = Searcher.prepare(Zoo.build("resnet50-tiny", ZooOptions.defaults().withBatch(2)));
        Node conv1 = g.nodes().stream().filter(n -> n.opName().equals("Conv") && n.input(0).producer() == null).findFirst().orElseThrow();
        assertTrue(GpuTuner.stemOnInput(conv1, GpuTactics.CONV_STEM, GpuEngine.Precision.FP16, Layout.NHWC));
        assertTrue(!GpuTuner.stemOnInput(conv1, GpuTactics.CONV_STEM, GpuEngine.Precision.FP16, Layout.NCHW), "an NCHW stem question is not the absorbed form");
        assertTrue(!GpuTuner.stemOnInput(conv1, GpuTactics.CONV_STEM, GpuEngine.Precision.FP32, Layout.NHWC), "the stem absorbs the reformat only at f16");
        assertTrue(!GpuTuner.stemOnInput(conv1, "cudnn.conv.fused_bias_act", GpuEngine.Precision.FP16, Layout.NHWC));
        Node later = g.nodes().stream().filter(n -> n.opName().equals("Conv") && n.input(0).producer() != null).findFirst().orElseThrow();
        assertTrue(!GpuTuner.stemOnInput(later, GpuTactics.CONV_STEM, GpuEngine.Precision.FP16, Layout.NHWC), "a convolution of an activation is not on the input");

        Graph stem = GpuTuner.stemAlone(conv1);
        GpuEngine.requireSupported(stem);
        assertEquals(2, stem.nodes().size());
        Node r = stem.nodes().get(0), m = stem.nodes().get(1);
        assertEquals("tessel.Reformat", r.opName());
        assertTrue(stem.inputs().contains(r.input(0)), "the reformat reads the graph input");
        assertEquals(Layout.NCHW, r.input(0).type().layout());
        assertEquals(conv1.name(), m.name());
        assertEquals(r.output(), m.input(0));
        assertEquals(Layout.NHWC, m.output().type().layout());
        Graph alone = GpuTuner.alone(conv1, Layout.NCHW);
        Tensor x = GpuEngineBench.inputs(alone, new SplittableRandom(5), -1, 1).get(0);
        Tensor want = new ReferenceInterpreter().run(alone, Map.of(alone.inputs().get(0).name(), x)).values().iterator().next();
        Tensor got = new ReferenceInterpreter().run(stem, Map.of(stem.inputs().get(0).name(), x)).values().iterator().next();
        assertTrue(got.dataEquals(want), "the stem's graph computes the node's values");

        // the fused stem and pool (ResNet-50's conv1, relu and maxpool as one conv_pool group) is timed on the input too
        Graph r50 = Searcher.prepare(Zoo.build("resnet50", ZooOptions.defaults()));
        var pool = org.tessel.passes.fusion.FusionPatterns.enumerate(r50).stream().filter(c -> c.kind().equals(org.tessel.passes.fusion.FusionPatterns.CONV_POOL)).findFirst().orElseThrow();
        Node fused = org.tessel.tactics.FusionPreview.of(r50, pool.kind(), pool.nodes());
        assertTrue(GpuTuner.stemOnInput(fused, GpuTactics.CONV_POOL, GpuEngine.Precision.FP16, Layout.NHWC));
        Graph pooled = GpuTuner.stemAlone(fused);
        GpuEngine.requireSupported(pooled);
        assertEquals("conv_pool", pooled.nodes().get(1).attrs().getString("kind", ""));
        assertEquals(pooled.nodes().get(0).output(), pooled.nodes().get(1).input(0));

        // the reformat the search charges on the input's edge comes off the form's time once, never below a quarter of it
        assertEquals(45.0, GpuTuner.stemNet(60, java.util.OptionalDouble.of(15)), 1e-9);
        assertEquals(15.0, GpuTuner.stemNet(60, java.util.OptionalDouble.of(106)), 1e-9);
        assertEquals(60.0, GpuTuner.stemNet(60, java.util.OptionalDouble.empty()), 1e-9);
    }

    /**
     * A timing cache written under the measuring tuner's keys replays its search: {@link CachedTuner} answers every question
     * the measuring search asked from the cache (the stem's on its input too, net of the reformat), so the same options give
     * the same plan at the same price. The measuring side here records made-up times the way {@link GpuTuner} records real ones.
     */
    @org.junit.jupiter.api.Test void aCachedTunerReplaysTheMeasuredSearch() {
        Graph g = Searcher.prepare(Zoo.build("resnet50-tiny", ZooOptions.defaults().withBatch(2)));
        SearchOptions o = SearchOptions.defaults().withTarget("h100").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16));
        org.tessel.runtime.tuning.TimingCache cache = new org.tessel.runtime.tuning.TimingCache(new org.tessel.runtime.tuning.TimingCache.Environment("test GPU", "0", Map.of()));
        java.util.function.BiFunction<String, String, Double> madeUp = (sig, t) -> 1 + Math.floorMod((sig + t).hashCode(), 1000) / 37.0;
        int[] stems = new int[1];
        Tuner measuring = new Tuner() {
            @Override public Timing time(Node n, String tacticId, Precision p, Layout l) {
                String sig = GpuTuner.signature(n, tacticId, p, l);
                if (sig == null) return Timing.NOT_MEASURED;
                double us = madeUp.apply(sig, tacticId);
                cache.put(sig, tacticId, new org.tessel.runtime.tuning.Measurement(us, 0, 25));
                if (GpuTuner.stemOnInput(n, tacticId, GpuEngine.gpuPrecision(p), l)) { stems[0]++; return new Timing.Measured(GpuTuner.stemNet(us, reformatUs(n.input(0).type()))); }
                return new Timing.Measured(us);
            }
            @Override public java.util.OptionalDouble reformatUs(org.tessel.api.TensorType t) {
                String sig = GpuTuner.reformatSignature(t);
                if (sig == null) return java.util.OptionalDouble.empty();
                double us = madeUp.apply(sig, GpuTactics.REFORMAT);
                cache.put(sig, GpuTactics.REFORMAT, new org.tessel.runtime.tuning.Measurement(us, 0, 25));
                return java.util.OptionalDouble.of(us);
            }
            @Override public java.util.OptionalDouble castUs(org.tessel.api.TensorType t, org.tessel.api.DType to) {
                double us = madeUp.apply(GpuTuner.castSignature(t, to), GpuTactics.CAST);
                cache.put(GpuTuner.castSignature(t, to), GpuTactics.CAST, new org.tessel.runtime.tuning.Measurement(us, 0, 25));
                return java.util.OptionalDouble.of(us);
            }
            @Override public String describe() { return "made-up times"; }
        };
        CostModel model = new CostModel(DeviceSpec.byName("h100"));
        TunedCosting measured = new TunedCosting(new CatalogCosting(TacticCatalog.global(), model, false), measuring, 2);
        org.tessel.search.Plan a = Searcher.run(Searcher.problem(g, measured, o), "exact", o);
        CachedTuner replay = new CachedTuner(cache, "memory");
        TunedCosting replayed = new TunedCosting(new CatalogCosting(TacticCatalog.global(), model, false), replay, 2);
        org.tessel.search.Plan b = Searcher.run(Searcher.problem(g, replayed, o), "exact", o);
        assertTrue(stems[0] > 0, "the stem on the input was asked");
        assertEquals(measured.timed(), replay.answered(), "every question answered from the cache");
        assertEquals(0, replay.unanswered());
        assertEquals(measured.choicesOverridden(), replayed.choicesOverridden());
        assertEquals(a.predictedUs(), b.predictedUs(), 1e-9);
        for (int i = 0; i < a.nodes(); i++) assertEquals(a.assignment().choice(i), b.assignment().choice(i), "node " + i);
        // the selector hook sees a measured choice's measurement beside the model's prediction
        var n0 = g.nodes().stream().filter(n -> n.opName().equals("Conv")).findFirst().orElseThrow();
        var priced = replayed.choices(n0, 0, List.of(Layout.NHWC, Layout.NCHW));
        var m = priced.stream().filter(c -> replayed.measuredUs(n0, c).isPresent()).findFirst().orElseThrow();
        assertEquals(m.latencyUs(), replayed.measuredUs(n0, m).getAsDouble(), 1e-6);
    }

    /** The tuner's seeded inputs are generated once per graph-input types and are the values a fresh generation gives. */
    @org.junit.jupiter.api.Test void seededInputsAreKeptByTheirTypes() {
        Graph a = GpuTuner.reformatAlone(org.tessel.api.TensorType.of(org.tessel.api.DType.F32, 2, 3, 4, 5));
        Graph b = GpuTuner.reformatAlone(org.tessel.api.TensorType.of(org.tessel.api.DType.F32, 2, 3, 4, 5));
        Graph c = GpuTuner.reformatAlone(org.tessel.api.TensorType.of(org.tessel.api.DType.F32, 2, 3, 4, 6));
        GpuTuner.SeededInputs seeded = new GpuTuner.SeededInputs();
        List<Tensor> first = seeded.of(a);
        assertTrue(first == seeded.of(b), "the same input types answer the kept tensors");
        assertTrue(first.get(0).dataEquals(GpuEngineBench.inputs(a, new SplittableRandom(7), -1, 1).get(0)), "the values a fresh seeded generation gives");
        assertTrue(seeded.of(c) != first);
        assertEquals(2, seeded.size());
    }
}

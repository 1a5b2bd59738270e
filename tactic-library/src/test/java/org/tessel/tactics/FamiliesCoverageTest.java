package org.tessel.tactics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;

/**
 * The deployment families of the zoo against the tactic catalogue, after the standard pipeline: every
 * node has the CPU reference, and the nodes without any GPU tactic are exactly the known gaps, so a
 * new kernel (or a new gap) shows here. There are none: a convolution fused with a Sigmoid (EfficientNet's
 * squeeze-excitation gate), once a gap, runs cuDNN's fused call followed by Tessel's activation kernel.
 */
class FamiliesCoverageTest {
    static final Map<String, Set<String>> KNOWN_GAPS = Map.of(
            "efficientnet-b0-tiny", Set.of(),
            "convnext-tiny-tiny", Set.of(),
            "unet-tiny", Set.of(), // its up-convolutions run tessel.deconv.direct
            "unet-bilinear-tiny", Set.of(),
            "crnn-tiny", Set.of(),
            "crnn-lstm-tiny", Set.of(), // its bidirectional LSTMs run tessel.recurrent
            "ssdlite-tiny", Set.of(),
            "ssdlite-nms-tiny", Set.of()); // its EfficientNMS_TRT runs tessel.nms.efficient

    @Test void everyNodeHasTheCpuReferenceAndOnlyTheKnownGapsLackAGpuTactic() {
        TacticCatalog cat = TacticCatalog.builtin();
        Map<String, Set<String>> gaps = new TreeMap<>();
        for (String model : KNOWN_GAPS.keySet()) {
            Graph g = Zoo.build(model, ZooOptions.defaults());
            new PassManager().run(g, StandardPipelines.resolve("standard"));
            Set<String> gpuless = new TreeSet<>();
            for (Node n : g.nodes()) {
                Layout l = ZooCoverageTest.layoutOf(n);
                assertTrue(cat.supported(n, Precision.FP32, l).contains(cat.byId("cpu.reference")), model + ": " + n.describe());
                boolean gpu = false;
                for (Layout lo : NodeFacts.layoutMatters(n) ? List.of(Layout.NCHW, Layout.NHWC) : List.of(l))
                    for (Precision p : List.of(Precision.FP32, Precision.FP16))
                        for (Tactic t : cat.supported(n, p, lo)) gpu |= t.backend() == Backend.GPU;
                if (!gpu) gpuless.add(n.opName() + (n.body() != null ? ":" + n.attrs().getString("kind", "") : ""));
            }
            gaps.put(model, gpuless);
        }
        assertEquals(new TreeMap<>(KNOWN_GAPS), gaps, "ops (fused kinds) without a GPU tactic after the standard pipeline");
        // the SE gate's fused conv (its activation is the Sigmoid) has GPU tactics like every other fused conv
        Graph e = Zoo.build("efficientnet-b0-tiny", ZooOptions.defaults());
        boolean sawSigmoid = false;
        new PassManager().run(e, StandardPipelines.resolve("standard"));
        for (Node n : e.nodes())
            if (n.body() != null && n.attrs().getString("kind", "").equals("conv_bias_act")) {
                boolean sigmoid = n.body().nodes().stream().anyMatch(m -> m.opName().equals("Sigmoid"));
                boolean gpu = cat.supported(n, Precision.FP32, ZooCoverageTest.layoutOf(n)).stream().anyMatch(t -> t.backend() == Backend.GPU)
                        || cat.supported(n, Precision.FP16, Layout.NHWC).stream().anyMatch(t -> t.backend() == Backend.GPU);
                assertTrue(gpu, n.name() + " " + n.body().opHistogram());
                sawSigmoid |= sigmoid;
            }
        assertTrue(sawSigmoid, "efficientnet-b0-tiny fuses a Conv with its Sigmoid gate");
    }
}

package org.tessel.tactics;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;

/**
 * Every node of every tiny zoo model, before and after the standard pipeline, has the CPU
 * reference in its own layout and some GPU tactic in some layout and precision.
 */
class ZooCoverageTest {
    static final List<String> MODELS = List.of("resnet50-tiny", "mobilenetv2-tiny", "googlenet-tiny", "bert-tiny", "vit-tiny");

    static Layout layoutOf(Node n) {
        Layout l = n.output().type().layout();
        return NodeFacts.layoutMatters(n) && l == Layout.ANY ? Layout.NCHW : l;
    }

    @Test void everyNodeHasTheCpuReferenceAndAGpuTactic() {
        TacticCatalog cat = TacticCatalog.builtin();
        CostModel h100 = new CostModel(DeviceSpec.h100Sxm());
        List<String> gpuless = new ArrayList<>();
        for (String model : MODELS)
            for (String pipeline : List.of("cleanup", "standard")) {
                Graph g = Zoo.build(model, ZooOptions.defaults());
                new PassManager().run(g, StandardPipelines.resolve(pipeline));
                for (Node n : g.nodes()) {
                    Layout l = layoutOf(n);
                    assertTrue(cat.supported(n, Precision.FP32, l).contains(cat.byId("cpu.reference")), n.describe());
                    boolean gpu = false;
                    List<Layout> layouts = NodeFacts.layoutMatters(n) ? List.of(Layout.NCHW, Layout.NHWC) : List.of(l);
                    for (Layout lo : layouts)
                    for (Precision p : List.of(Precision.FP32, Precision.FP16))
                        for (Tactic t : cat.supported(n, p, lo))
                            if (t.backend() == Backend.GPU) {
                                gpu = true;
                                double us = t.cost(h100, n, p, lo, true).totalUs();
                                assertTrue(us >= 0 && Double.isFinite(us), t.id() + " on " + n.describe() + ": " + us);
                            }
                    if (!gpu) gpuless.add(model + "/" + pipeline + ": " + n.describe() + " " + (n.body() != null ? n.attrs().getString("kind", "") : ""));
                }
            }
        assertEquals(List.of(), gpuless, "nodes with no GPU tactic");
    }
}

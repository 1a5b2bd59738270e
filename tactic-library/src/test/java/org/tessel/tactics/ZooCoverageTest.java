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
 * reference in its own layout; after the standard pipeline (what the GPU engine builds from) every
 * node also has some GPU tactic in some layout and precision. Before it, the only nodes without one
 * are those the engine runs only fused: MatMul (inside gemm_bias_act or attention) and Clip.
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
        java.util.Set<String> onlyFused = new java.util.TreeSet<>();
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
                    if (!gpu && pipeline.equals("standard")) gpuless.add(model + "/" + pipeline + ": " + n.describe() + " " + (n.body() != null ? n.attrs().getString("kind", "") : ""));
                    if (!gpu && pipeline.equals("cleanup")) onlyFused.add(n.opName());
                }
            }
        assertEquals(List.of(), gpuless, "nodes with no GPU tactic");
        assertEquals(java.util.Set.of(), onlyFused, "unfused ops without a GPU tactic");
    }
}

package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;

import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.passes.PassManager;

/** Without a GPU: every CNN's optimized graph (both layout policies) has a GPU kernel for each node. */
class CnnCoverageTest {
    @ParameterizedTest
    @ValueSource(strings = {"resnet50", "resnet50-tiny", "mobilenetv2", "mobilenetv2-tiny", "googlenet", "googlenet-tiny",
            "light_resnet50", "light_inception_v1", "light_squeezenet", "squeezenet1_1_dynamo", "mobilenet_v2_ts", "bert_tiny_dynamo"})
    void everyNodeHasAKernel(String model) {
        for (GpuEngine.Precision p : new GpuEngine.Precision[] {GpuEngine.Precision.FP16, GpuEngine.Precision.FP32}) {
            Graph g = CnnModels.load(model);
            new PassManager().run(g, GpuEngine.pipeline(p, g));
            Map<String, Integer> ops = new TreeMap<>();
            for (Node n : g.nodes()) ops.merge(n.opName().equals("tessel.Fused") ? "Fused:" + n.attrs().getString("kind", "?") : n.opName(), 1, Integer::sum);
            System.out.println(model + " " + p + " optimized ops: " + ops);
            assertDoesNotThrow(() -> GpuEngine.requireSupported(g), model + " " + p);
            for (Node n : g.nodes())
                for (Node c : n.body() != null ? n.body().nodes() : java.util.List.of(n)) {
                    if (!c.opName().equals("Conv")) continue;
                    long[] pads = c.attrs().getInts("pads", new long[] {0, 0, 0, 0});
                    // the engine's cuDNN convolutions take symmetric pads only (refused at build time otherwise)
                    org.junit.jupiter.api.Assertions.assertTrue(pads.length == 4 && pads[0] == pads[2] && pads[1] == pads[3],
                            model + ": " + n.describe() + " has pads " + java.util.Arrays.toString(pads));
                    org.junit.jupiter.api.Assertions.assertEquals("NOTSET", c.attrs().getString("auto_pad", "NOTSET"), model + ": " + n.describe());
                }
        }
    }
}

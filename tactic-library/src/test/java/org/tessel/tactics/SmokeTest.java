package org.tessel.tactics;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;

class SmokeTest {
    @Test void everyResnetNodeHasASupportedTactic() {
        Graph g = Zoo.build("resnet50-tiny", ZooOptions.defaults());
        CostModel m = new CostModel(DeviceSpec.h100Sxm());
        TacticCatalog cat = TacticCatalog.global();
        for (Node n : g.nodes()) {
            var ts = cat.supported(n, Precision.FP32, Layout.NCHW);
            assertFalse(ts.isEmpty(), n.describe());
            for (Tactic t : ts) {
                var c = t.cost(m, n, Precision.FP32, Layout.NCHW, false);
                System.out.println(n.describe() + " " + t.id() + " " + c);
            }
        }
    }
}

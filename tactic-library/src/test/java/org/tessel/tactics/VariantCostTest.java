package org.tessel.tactics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.PagedDecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;

/**
 * A tactic's cost with no variant named is its own cost, whoever overrides it (the GEMMs' and the fused attention's
 * epilogue pricing); a variant it prices apart is priced by that variant's features.
 */
class VariantCostTest {
    @Test void noVariantIsTheTacticsOwnCost() {
        CostModel m = new CostModel(DeviceSpec.byName("h100"));
        int checked = 0;
        for (Graph g : List.of(Zoo.build("bert-tiny", ZooOptions.defaults()), Zoo.buildPagedDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new PagedDecoderShape(2, 64, 8, 16, 40), 1)))
            for (Node n : g.nodes())
                for (Tactic t : TacticCatalog.global().candidates(n, m.device()))
                    for (Precision p : List.of(Precision.FP32, Precision.FP16)) {
                        if (t.whyNot(n, p, Layout.NCHW) != null) continue;
                        assertEquals(t.cost(m, n, p, Layout.NCHW, true).totalUs(), t.cost(m, n, p, Layout.NCHW, true, "").totalUs(), 0, t.id() + " on " + n.describe());
                        for (String v : t.pricedVariants(n, p))
                            assertEquals(m.estimate(t.id(), org.tessel.cost.Work.of(n, p), t.features(n, p, Layout.NCHW, v), p, true).totalUs(),
                                    t.cost(m, n, p, Layout.NCHW, true, v).totalUs(), 1e-9, t.id() + "/" + v + " on " + n.describe());
                        checked++;
                    }
        assertTrue(checked > 50, checked + " tactic choices checked");
    }
}

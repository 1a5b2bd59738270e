package org.tessel.tactics.conv;

import static org.junit.jupiter.api.Assertions.*;

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
import org.tessel.passes.fusion.FusionCandidate;
import org.tessel.passes.fusion.FusionPatterns;
import org.tessel.tactics.FusionPreview;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;

/**
 * The conv_pool candidate (ResNet-50's stem: conv1, its ReLU, the max pool) and {@code tessel.conv.stem_pool}: which
 * groups it takes, what it refuses and why, and its price against the stem and the pool run apart.
 */
class ConvPoolTacticTest {
    static final CostModel H100 = new CostModel(DeviceSpec.h100Sxm());
    static final TacticCatalog CATALOG = TacticCatalog.builtin();

    static Graph cleaned(String model, int batch) {
        Graph g = Zoo.build(model, ZooOptions.defaults().withBatch(batch));
        new PassManager().run(g, StandardPipelines.CLEANUP + ",recognize-composites,fold-batchnorm,fold-bias-add,dce");
        return g;
    }

    static FusionCandidate stem(Graph g) {
        List<FusionCandidate> pools = FusionPatterns.enumerate(g).stream().filter(c -> c.kind().equals(FusionPatterns.CONV_POOL)).toList();
        assertEquals(1, pools.size(), "ResNet-50 has one conv + max pool: " + pools);
        return pools.getFirst();
    }

    @Test void resnetsStemIsACandidateTheTacticTakesAtFp16Only() {
        Graph g = cleaned("resnet50", 1);
        FusionCandidate c = stem(g);
        assertEquals(List.of("Conv", "Relu", "MaxPool"), c.nodes().stream().map(Node::opName).toList());
        Node fused = FusionPreview.of(g, c.kind(), c.nodes());
        Tactic t = CATALOG.byId(ConvPoolTactic.ID);
        assertNull(t.whyNot(fused, Precision.FP16, Layout.NHWC));
        assertNotNull(t.whyNot(fused, Precision.FP32, Layout.NHWC));
        assertNotNull(t.whyNot(fused, Precision.FP16, Layout.NCHW));
        // no other catalogue tactic claims the group, the reference interpreter aside
        for (Tactic other : CATALOG.all())
            if (!other.id().equals(ConvPoolTactic.ID) && !other.id().equals("cpu.reference"))
                assertNotNull(other.whyNot(fused, Precision.FP16, Layout.NHWC), other.id() + " does not run a conv_pool group");
    }

    @Test void aStemWithMoreChannelsOrABiggerPoolIsRefusedSayingWhy() {
        Graph g = cleaned("resnet50", 1);
        FusionCandidate c = stem(g);
        Node conv = c.nodes().get(0), pool = c.nodes().get(2);
        assertNull(ConvPoolTactic.whyNot(conv, pool, conv));
        // googlenet's second stage: a 1x1 conv of 64 channels then a 3x3/2 max pool; 64 input channels are past the kernel's 4
        Graph gn = cleaned("googlenet", 1);
        for (FusionCandidate k : FusionPatterns.enumerate(gn)) {
            if (!k.kind().equals(FusionPatterns.CONV_POOL)) continue;
            Node kc = k.nodes().get(0), kp = k.nodes().getLast();
            long cin = kc.input(0).type().shape().dim(1);
            String why = ConvPoolTactic.whyNot(kc, kp, kc);
            if (cin > ConvPoolTactic.MAX_CHANNELS) assertEquals("at most 4 input channels (got " + cin + ")", why);
        }
    }

    @Test void atBatch256TheFusedStemIsPricedBelowTheStemAndThePoolApart() {
        Graph g = cleaned("resnet50", 256);
        FusionCandidate c = stem(g);
        Node fused = FusionPreview.of(g, c.kind(), c.nodes());
        double together = CATALOG.byId(ConvPoolTactic.ID).cost(H100, fused, Precision.FP16, Layout.NHWC, true).totalUs();
        Node convRelu = FusionPreview.of(g, "conv_bias_act", c.nodes().subList(0, 2));
        double stem = CATALOG.byId("tessel.conv.stem").cost(H100, convRelu, Precision.FP16, Layout.NHWC, true).totalUs();
        double pool = CATALOG.supported(c.nodes().get(2), Precision.FP16, Layout.NHWC).stream()
                .filter(t -> t.backend() == org.tessel.tactics.Backend.GPU).mapToDouble(t -> t.cost(H100, c.nodes().get(2), Precision.FP16, Layout.NHWC, true).totalUs()).min().orElseThrow();
        assertTrue(together < stem + pool, "fused " + together + " us against stem " + stem + " + pool " + pool);
        assertEquals("conv_pool", NodeFacts.fusedKind(fused));
    }
}

package org.tessel.tactics.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.PagedAttentionOp;
import org.tessel.ir.ops.RotaryEmbeddingOps;
import org.tessel.tactics.FusionPreview;

/**
 * {@code tessel.attention.paged} on a fused {@code rope_attention} group (the paged attention with the
 * tessel.RotaryEmbeddings of its q and new keys, either or both): supported for a decode step, at the attention's
 * launches, priced below the attention plus the two rope launches; refused for a prefill chunk and for a body it does not
 * read, each reason naming the node.
 */
class RopeAttentionTacticTest {
    static final CostModel H100 = new CostModel(DeviceSpec.h100Sxm());

    /** q [B, N, 8, 64] and k [B, N, 2, 64] through ropes with cos/sin [B, N, 1, 64] into a paged attention over f16 pools. */
    static Graph graph(int batch, int newTokens, boolean ropeQ, boolean ropeK) {
        NetworkBuilder b = new NetworkBuilder("rope_attention_b" + batch + "n" + newTokens);
        int h = 8, kvh = 2, d = 64, bs = 16, mb = 4, nb = 16;
        Value q = b.input("q", DType.F16, batch, newTokens, h, d), k = b.input("k", DType.F16, batch, newTokens, kvh, d), v = b.input("v", DType.F16, batch, newTokens, kvh, d);
        Value cos = b.input("cos", DType.F16, batch, newTokens, 1, d), sin = b.input("sin", DType.F16, batch, newTokens, 1, d);
        Value kp = b.input("k_pool", DType.F16, nb, kvh, bs, d), vp = b.input("v_pool", DType.F16, nb, kvh, bs, d);
        Value tables = b.input("block_tables", DType.I32, batch, mb), slots = b.input("slots", DType.I32, batch, newTokens), lens = b.input("context_lens", DType.I32, batch);
        if (ropeQ) q = b.node(RotaryEmbeddingOps.HALF_ROTATION, "q_rope", Attributes.empty(), 1, q, cos, sin).output();
        if (ropeK) k = b.node(RotaryEmbeddingOps.HALF_ROTATION, "k_rope", Attributes.empty(), 1, k, cos, sin).output();
        Node att = b.node(PagedAttentionOp.NAME, "attention", null, 3, q, k, v, kp, vp, tables, slots, lens);
        return b.output(att.output(0), att.output(1), att.output(2)).build();
    }

    static Node fused(Graph g) {
        List<Node> members = new ArrayList<>();
        for (Node n : g.nodes()) if (n.opName().equals(RotaryEmbeddingOps.HALF_ROTATION) || n.opName().equals(PagedAttentionOp.NAME)) members.add(n);
        return FusionPreview.of(g, PagedAttentionTactic.ROPE_ATTENTION, members);
    }

    static Node node(Graph g, String name) { return g.nodes().stream().filter(n -> n.name().equals(name)).findFirst().orElseThrow(); }

    @Test void aDecodeStepsGroupRunsAtTheAttentionsLaunches() {
        for (boolean[] f : new boolean[][] {{true, true}, {true, false}, {false, true}}) {
            Graph g = graph(3, 1, f[0], f[1]);
            Node n = fused(g);
            assertNull(PagedAttentionTactic.PAGED.whyNot(n, Precision.FP16, Layout.ANY), n.describe());
            assertNull(PagedAttentionTactic.PAGED.whyNot(n, Precision.BF16, Layout.ANY), n.describe());
            assertEquals(PagedAttentionTactic.launches(node(g, "attention")), PagedAttentionTactic.PAGED.features(n, Precision.FP16, Layout.ANY).kernelLaunches());
            assertEquals(f[0] ? "q_rope" : null, PagedAttentionTactic.rope(n, 0) == null ? null : PagedAttentionTactic.rope(n, 0).name());
            assertEquals(f[1] ? "k_rope" : null, PagedAttentionTactic.rope(n, 1) == null ? null : PagedAttentionTactic.rope(n, 1).name());
        }
    }

    /** The group costs the attention's launch and bytes plus cos and sin: less than the attention and two rope launches. */
    @Test void theGroupIsPricedAsTheAttentionWithoutTheRopeLaunches() {
        Graph g = graph(1, 1, true, true);
        double att = PagedAttentionTactic.PAGED.cost(H100, node(g, "attention"), Precision.FP16, Layout.ANY, true).totalUs();
        double ropes = RopeTactic.ROPE.cost(H100, node(g, "q_rope"), Precision.FP16, Layout.ANY, true).totalUs()
                + RopeTactic.ROPE.cost(H100, node(g, "k_rope"), Precision.FP16, Layout.ANY, true).totalUs();
        var fused = PagedAttentionTactic.PAGED.cost(H100, fused(g), Precision.FP16, Layout.ANY, true);
        var alone = PagedAttentionTactic.PAGED.cost(H100, node(g, "attention"), Precision.FP16, Layout.ANY, true);
        assertEquals(alone.launchUs(), fused.launchUs(), 1e-9, "the attention's launch, no rope's");
        assertTrue(fused.totalUs() < att + ropes, fused.totalUs() + " us fused vs " + att + " + " + ropes);
        assertTrue(fused.memoryUs() < alone.memoryUs() * 1.5, "the pools are read as the attention reads them, not whole: " + fused.memoryUs() + " vs " + alone.memoryUs());
    }

    @Test void aPrefillChunksGroupIsRefusedNamingTheAttention() {
        Node n = fused(graph(2, 4, true, true));
        String why = PagedAttentionTactic.PAGED.whyNot(n, Precision.FP16, Layout.ANY);
        assertTrue(why != null && why.contains("decode steps only") && why.contains("attention") && why.contains("4 new tokens"), why);
    }

    @Test void aBodyWithAnotherNodeIsRefusedNamingIt() {
        Graph g = graphWithRelu(); // q's rope, a Relu on v and the attention, all in the group
        Node n = FusionPreview.of(g, PagedAttentionTactic.ROPE_ATTENTION, g.nodes());
        String why = PagedAttentionTactic.PAGED.whyNot(n, Precision.FP16, Layout.ANY);
        assertTrue(why != null && why.contains("v_relu") && why.contains("Relu"), why);
    }

    static Graph graphWithRelu() {
        NetworkBuilder b = new NetworkBuilder("rope_attention_relu");
        int h = 8, kvh = 2, d = 64;
        Value q = b.input("q", DType.F16, 1, 1, h, d), k = b.input("k", DType.F16, 1, 1, kvh, d), v = b.input("v", DType.F16, 1, 1, kvh, d);
        Value cos = b.input("cos", DType.F16, 1, 1, 1, d), sin = b.input("sin", DType.F16, 1, 1, 1, d);
        Value kp = b.input("k_pool", DType.F16, 16, kvh, 16, d), vp = b.input("v_pool", DType.F16, 16, kvh, 16, d);
        Value tables = b.input("block_tables", DType.I32, 1, 4), slots = b.input("slots", DType.I32, 1, 1), lens = b.input("context_lens", DType.I32, 1);
        q = b.node(RotaryEmbeddingOps.HALF_ROTATION, "q_rope", Attributes.empty(), 1, q, cos, sin).output();
        v = b.node("Relu", "v_relu", Attributes.empty(), 1, v).output();
        Node att = b.node(PagedAttentionOp.NAME, "attention", null, 3, q, k, v, kp, vp, tables, slots, lens);
        return b.output(att.output(0), att.output(1), att.output(2)).build();
    }
}

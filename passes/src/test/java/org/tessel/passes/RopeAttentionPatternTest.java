package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.PagedAttentionOp;
import org.tessel.ir.ops.RotaryEmbeddingOps;
import org.tessel.passes.fusion.FusionCandidate;
import org.tessel.passes.fusion.FusionPatterns;

/**
 * The {@code rope_attention} candidate: a paged attention with the single-use rotary embeddings of its q and new keys
 * (either or both); none where no rope feeds it, and a rope whose output is also read elsewhere stays out.
 */
class RopeAttentionPatternTest {
    /** q and k through ropes (as asked) into a paged attention; {@code kAlsoOut}: k's rope output is a graph output too. */
    static Graph graph(boolean ropeQ, boolean ropeK, boolean kAlsoOut) {
        NetworkBuilder b = new NetworkBuilder("rope_attention");
        int h = 4, kvh = 2, d = 16;
        Value q = b.input("q", DType.F32, 1, 1, h, d), k = b.input("k", DType.F32, 1, 1, kvh, d), v = b.input("v", DType.F32, 1, 1, kvh, d);
        Value cos = b.input("cos", DType.F32, 1, 1, 1, d), sin = b.input("sin", DType.F32, 1, 1, 1, d);
        Value kp = b.input("k_pool", DType.F32, 8, kvh, 4, d), vp = b.input("v_pool", DType.F32, 8, kvh, 4, d);
        Value tables = b.input("block_tables", DType.I32, 1, 2), slots = b.input("slots", DType.I32, 1, 1), lens = b.input("context_lens", DType.I32, 1);
        if (ropeQ) q = b.node(RotaryEmbeddingOps.HALF_ROTATION, "q_rope", Attributes.empty(), 1, q, cos, sin).output();
        if (ropeK) k = b.node(RotaryEmbeddingOps.HALF_ROTATION, "k_rope", Attributes.empty(), 1, k, cos, sin).output();
        Node att = b.node(PagedAttentionOp.NAME, "attention", null, 3, q, k, v, kp, vp, tables, slots, lens);
        return kAlsoOut ? b.output(att.output(0), att.output(1), att.output(2), k).build() : b.output(att.output(0), att.output(1), att.output(2)).build();
    }

    static List<List<String>> groups(Graph g) {
        return FusionPatterns.enumerate(g).stream().filter(c -> c.kind().equals("rope_attention"))
                .map(FusionCandidate::nodes).map(ns -> ns.stream().map(Node::name).toList()).toList();
    }

    @Test void bothRopesJoinTheAttention() { assertEquals(List.of(List.of("q_rope", "k_rope", "attention")), groups(graph(true, true, false))); }

    @Test void eitherRopeAloneJoinsIt() {
        assertEquals(List.of(List.of("q_rope", "attention")), groups(graph(true, false, false)));
        assertEquals(List.of(List.of("k_rope", "attention")), groups(graph(false, true, false)));
    }

    @Test void noRopeNoCandidate() { assertEquals(List.of(), groups(graph(false, false, false))); }

    @Test void aRopeReadElsewhereStaysOut() { assertEquals(List.of(List.of("q_rope", "attention")), groups(graph(true, true, true))); }
}

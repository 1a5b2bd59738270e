package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ops.RotaryEmbeddingOps;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.PagedDecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * llama-tiny's paged decode and prefill step graphs planned as the CLI's GPU decoder plans them ({@link
 * DecoderModels#pagedPlanner}: the joint search at FP32 and FP16): the rotary embedding of q and k in every layer is one
 * tessel.RotaryEmbedding on tessel.rope, and none of RoPE's Neg or rotate_half Concat is left (the one Concat left
 * builds the shared angles, [freqs, freqs]). The contiguous decoder's decode step, prepared for the search, has its
 * ropes recognised too.
 */
class PagedDecoderRopePlanTest {
    @Test void everyRopeIsOneNodeOnTessel_rope() {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        for (PagedDecoderShape shape : List.of(new PagedDecoderShape(2, 1, 2, 4, 8), new PagedDecoderShape(2, 4, 2, 4, 8))) {
            Graph g = Zoo.buildPagedDecoder("llama-tiny", c, shape, 42);
            PlanApplier.Applied a = DecoderModels.pagedPlanner("h100", Precision.FP16).plan(g);
            List<String> ops = a.graph().nodes().stream().map(Node::opName).toList();
            assertTrue(!ops.contains("Neg"), "no Neg is left: " + ops);
            List<String> concats = a.graph().nodes().stream().filter(n -> n.opName().equals("Concat")).map(Node::name).toList();
            assertEquals(1, concats.size(), "only the angles' Concat is left: " + concats);
            assertTrue(concats.getFirst().contains("rotary_emb.emb"), concats.getFirst());
            List<PlannedNode> ropes = a.plan().nodes().stream().filter(p -> p.op().equals(RotaryEmbeddingOps.HALF_ROTATION)).toList();
            assertEquals(2 * c.layers(), ropes.size(), "q and k of each layer: " + ropes);
            for (PlannedNode p : ropes) assertEquals("tessel.rope", p.tacticId(), p.node());
        }
    }

    @Test void theContiguousDecodersRopesAreRecognisedToo() {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        Graph g = org.tessel.search.Searcher.prepare(Zoo.buildDecoder("llama-tiny", c, new org.tessel.ir.zoo.DecoderShape(2, 1, 5), 42));
        List<String> ops = g.nodes().stream().map(Node::opName).toList();
        assertTrue(!ops.contains("Neg"), "no Neg is left: " + ops);
        assertEquals(2 * c.layers(), ops.stream().filter(RotaryEmbeddingOps.HALF_ROTATION::equals).count());
    }
}

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
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * llama-tiny's paged decode and prefill step graphs planned as the CLI's GPU decoder plans them ({@link
 * DecoderModels#pagedPlanner}: the joint search at FP32 and FP16): the rotary embedding of q and k in every layer is one
 * tessel.RotaryEmbedding, and none of RoPE's Neg or rotate_half Concat is left (the one Concat left builds the shared
 * angles, [freqs, freqs]). In a decode step the search fuses both ropes into the paged attention (a rope_attention group
 * on tessel.attention.paged), so llama-1b's decode layer runs 8 kernels; a prefill chunk keeps them on tessel.rope. The
 * contiguous decoder's decode step, prepared for the search, has its ropes recognised too.
 */
class PagedDecoderRopePlanTest {
    @Test void everyRopeIsOneNodeFusedIntoDecodeAttentionOrOnTessel_rope() {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        for (PagedDecoderShape shape : List.of(new PagedDecoderShape(2, 1, 2, 4, 8), new PagedDecoderShape(2, 4, 2, 4, 8))) {
            boolean decode = shape.newTokens() == 1;
            Graph g = Zoo.buildPagedDecoder("llama-tiny", c, shape, 42);
            PlanApplier.Applied a = DecoderModels.pagedPlanner("h100", Precision.FP16).plan(g);
            List<String> ops = a.graph().nodes().stream().map(Node::opName).toList();
            assertTrue(!ops.contains("Neg"), "no Neg is left: " + ops);
            List<String> concats = a.graph().nodes().stream().filter(n -> n.opName().equals("Concat")).map(Node::name).toList();
            assertEquals(1, concats.size(), "only the angles' Concat is left: " + concats);
            assertTrue(concats.getFirst().contains("rotary_emb.emb"), concats.getFirst());
            List<PlannedNode> ropes = a.plan().nodes().stream().filter(p -> p.op().equals(RotaryEmbeddingOps.HALF_ROTATION)).toList();
            List<FusedGroup> groups = a.plan().groups().stream().filter(f -> f.kind().equals("rope_attention")).toList();
            if (decode) {
                assertEquals(List.of(), ropes, "every rope is fused into its layer's attention");
                assertEquals(c.layers(), groups.size(), "one rope_attention group a layer: " + a.plan().groups());
                for (FusedGroup f : groups) {
                    assertEquals(3, f.members().size(), "q's rope, k's rope and the attention: " + f);
                    assertEquals("tessel.attention.paged", a.plan().nodes().stream().filter(p -> p.node().equals(f.name())).findFirst().orElseThrow().tacticId());
                }
            } else {
                assertEquals(List.of(), groups, "a prefill chunk keeps its ropes");
                assertEquals(2 * c.layers(), ropes.size(), "q and k of each layer: " + ropes);
                for (PlannedNode p : ropes) assertEquals("tessel.rope", p.tacticId(), p.node());
            }
        }
    }

    /**
     * llama-1b's decode layer (one layer built; its weights are drawn lazily) as planned: the merged QKV GEMV with the
     * input norm in it (split as views), the attention with both ropes and the append in it, o_proj + residual, the merged
     * gate/up GEMV with the post-attention norm in it, SiLU * up evaluated in down + residual's GEMV: 5 kernels (7 with the
     * ropes on their own).
     */
    @Test void llama1bDecodeLayerRunsFiveKernels() {
        DecoderConfig c = Zoo.decoder("llama-1b", 1);
        Graph g = Zoo.buildPagedDecoder("llama-1b", c, new PagedDecoderShape(1, 1, 4, 16, 64), 42);
        PlanApplier.Applied a = DecoderModels.pagedPlanner("h100", Precision.FP16).plan(g);
        List<PlannedNode> kernels = a.plan().nodes().stream().filter(p -> p.node().startsWith("model.layers.0."))
                .filter(p -> !p.tacticId().equals("tessel.view") && !p.tacticId().equals("tessel.split.view")).toList();
        assertEquals(List.of("tessel.gemv", "tessel.attention.paged", "tessel.gemv", "tessel.gemv", "tessel.gemv"),
                kernels.stream().map(PlannedNode::tacticId).toList(), kernels.toString());
    }

    @Test void theContiguousDecodersRopesAreRecognisedToo() {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        Graph g = org.tessel.search.Searcher.prepare(Zoo.buildDecoder("llama-tiny", c, new org.tessel.ir.zoo.DecoderShape(2, 1, 5), 42));
        List<String> ops = g.nodes().stream().map(Node::opName).toList();
        assertTrue(!ops.contains("Neg"), "no Neg is left: " + ops);
        assertEquals(2 * c.layers(), ops.stream().filter(RotaryEmbeddingOps.HALF_ROTATION::equals).count());
    }
}

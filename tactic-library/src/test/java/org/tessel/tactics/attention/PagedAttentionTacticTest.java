package org.tessel.tactics.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.zoo.PagedDecoderShape;
import org.tessel.ir.zoo.Zoo;

/**
 * The kernels {@code tessel.attention.paged} is priced at, on llama-tiny's paged step graphs: a decode step is one
 * launch (the append fused into flash-decoding) while its block tables reach at most 64 tokens, two past that (the
 * split context's reduction); a prefill chunk two (append, then the prefill kernel). A prefill chunk's two forms are
 * priced apart: tiled on the CUDA cores, mma on the tensor cores (FP16 only); a decode step has no forms.
 */
class PagedAttentionTacticTest {
    private static int launches(int newTokens, int maxBlocks, int blockSize) {
        Graph g = Zoo.buildPagedDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new PagedDecoderShape(2, newTokens, maxBlocks, blockSize, 64), 1);
        Node n = g.nodes().stream().filter(x -> x.opName().equals(PagedAttentionTactic.OP)).findFirst().orElseThrow();
        int launches = PagedAttentionTactic.PAGED.features(n, Precision.FP16, Layout.NCHW).kernelLaunches();
        assertEquals(launches, PagedAttentionTactic.launches(n));
        return launches;
    }

    @Test void aDecodeStepIsOneLaunchUntilItsContextIsSplit() {
        assertEquals(1, launches(1, 4, 16), "64 tokens: one partition, the append fused in");
        assertEquals(1, launches(1, 1, 7));
        assertEquals(2, launches(1, 5, 16), "80 tokens: split, plus the reduction");
        assertEquals(2, launches(1, 64, 16));
        assertEquals(2, launches(4, 4, 16), "a chunk: append, then the prefill kernel");
        assertEquals(2, launches(8, 1, 16));
    }

    private static Node attention(int newTokens) {
        Graph g = Zoo.buildPagedDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new PagedDecoderShape(2, newTokens, 8, 16, 64), 1);
        return g.nodes().stream().filter(x -> x.opName().equals(PagedAttentionTactic.OP)).findFirst().orElseThrow();
    }

    @Test void aPrefillChunksFormsArePricedApart() {
        var t = PagedAttentionTactic.PAGED;
        Node chunk = attention(64), decode = attention(1);
        assertTrue(t.pricesVariants());
        assertEquals(java.util.List.of("mma", "tiled"), t.pricedVariants(chunk, Precision.FP16));
        assertEquals(java.util.List.of("tiled"), t.pricedVariants(chunk, Precision.BF16));
        assertEquals(java.util.List.of(), t.pricedVariants(decode, Precision.FP16));
        assertFalse(t.features(chunk, Precision.FP16, Layout.NCHW, "tiled").tensorCores());
        assertTrue(t.features(chunk, Precision.FP16, Layout.NCHW, "mma").tensorCores());
        assertEquals(PagedAttentionTactic.MMA_PEAK_EFFICIENCY, t.features(chunk, Precision.FP16, Layout.NCHW, "mma").peakEfficiency());
        assertNull(t.variantWhyNot(chunk, "mma", Precision.FP16));
        assertTrue(t.variantWhyNot(chunk, "mma", Precision.BF16).contains("computes at FP16"), t.variantWhyNot(chunk, "mma", Precision.BF16));
        assertTrue(t.variantWhyNot(decode, "tiled", Precision.FP16).contains("is a decode step"));
        assertTrue(t.variantWhyNot(null, "flash", Precision.FP16).contains("has no variant 'flash' (its variants: mma, tiled)"));
        assertNull(t.variantWhyNot(null, "mma", null));
    }
}

package org.tessel.tactics.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
 * split context's reduction); a prefill chunk two (append, then the prefill kernel).
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
}

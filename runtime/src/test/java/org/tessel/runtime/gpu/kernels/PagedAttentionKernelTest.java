package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;

/**
 * The host side of {@code tessel.paged_attention} without a GPU: configurations refused with a
 * reason, heads per block, the partition planner, shared memory and workspace sizes, block-table
 * packing, a step's validation (contexts longer than their tables, block ids outside the pool) and
 * the flash-decoding combination (partition max, sum, normalised output) the kernels compute,
 * replayed in Java against one softmax over the whole context.
 */
class PagedAttentionKernelTest {
    static PagedAttentionKernel.Config llama1b() { return new PagedAttentionKernel.Config(DType.F16, 32, 8, 64, 16, 1024); }

    @Test void unsupportedConfigurationsAreRefusedWithTheirReason() {
        var e = assertThrows(IllegalArgumentException.class, () -> new PagedAttentionKernel.Config(DType.F16, 32, 5, 64, 16, 8));
        assertEquals("tessel.paged_attention: 32 query heads cannot share 5 KV heads (heads must be a multiple of kv_heads)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new PagedAttentionKernel.Config(DType.BF16, 32, 8, 80, 16, 8));
        assertTrue(e.getMessage().contains("head_dim 80 is not supported"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new PagedAttentionKernel.Config(DType.F32, 32, 8, 64, 16, 8));
        assertTrue(e.getMessage().contains("storage f32"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new PagedAttentionKernel.Config(DType.F16, 32, 8, 64, 0, 8));
        assertThrows(IllegalArgumentException.class, () -> new PagedAttentionKernel.Config(DType.F16, 32, 8, 64, 16, 0));
        assertThrows(IllegalArgumentException.class, () -> new PagedAttentionKernel.Config(DType.F16, 0, 8, 64, 16, 8));
        for (int d : new int[] {16, 32, 64, 128, 256}) assertNull(PagedAttentionKernel.unsupportedReason(DType.BF16, 12, 12, d, 7, 3));
    }

    @Test void headsPerBlockIsTheLargestDivisorOfTheGroupUpTo8() {
        int[][] cases = {{1, 1}, {4, 4}, {8, 8}, {7, 7}, {12, 6}, {16, 8}, {9, 3}, {11, 1}, {32, 8}};
        for (int[] c : cases) assertEquals(c[1], PagedAttentionKernel.headsPerBlock(c[0]), "group " + c[0]);
        assertEquals(4, llama1b().headsPerBlock());
        assertEquals(4, llama1b().group());
    }

    @Test void thePlannerSplitsLongContextsUntilTheGpuIsFull() {
        var c = llama1b();
        // batch 1, 8k context: 8 head groups; halving 512 -> 64 tokens until 4 blocks per SM of 132
        var p = PagedAttentionKernel.plan(c, 1, 8192, 132);
        assertEquals(64, p.partitionSize());
        assertEquals(128, p.partitions());
        assertTrue(p.split());
        assertEquals(1024, p.blocks());
        // batch 64 x 4096 fills the GPU with 512-token partitions
        p = PagedAttentionKernel.plan(c, 64, 4096, 132);
        assertEquals(512, p.partitionSize());
        assertEquals(8, p.partitions());
        assertEquals(4L * 64 * 32 * 8 * (64 + 2), p.workspaceBytes());
        // a context within one partition is not split: no workspace, no reduction
        p = PagedAttentionKernel.plan(c, 4, 17, 132);
        assertEquals(1, p.partitions());
        assertEquals(0, p.workspaceBytes());
        assertEquals(1, PagedAttentionKernel.plan(c, 4, 0, 132).partitions());
        assertThrows(IllegalArgumentException.class, () -> PagedAttentionKernel.plan(c, 65536, 16, 132));
        var e = assertThrows(IllegalArgumentException.class, () -> PagedAttentionKernel.plan(c, 1, 512 * 4096 + 1, 132));
        assertTrue(e.getMessage().contains("exceeds 4096 partitions"), e.getMessage());
        // every supported shape fits the default 48 KiB of dynamic shared memory
        for (int d : new int[] {16, 32, 64, 128, 256})
            for (int hpb = 1; hpb <= PagedAttentionKernel.MAX_HEADS_PER_BLOCK; hpb++)
                for (int part = PagedAttentionKernel.MIN_PARTITION; part <= PagedAttentionKernel.MAX_PARTITION; part *= 2)
                    // dynamic plus the static block ids, max and sum
                    assertTrue(new PagedAttentionKernel.Plan(1, hpb, d, hpb, part, 2).sharedBytes() + 4 * (PagedAttentionKernel.MAX_PARTITION + 1) + 64 <= 48 * 1024,
                            "d" + d + " hpb" + hpb + " p" + part);
        assertTrue(4 * PagedAttentionKernel.MAX_PARTITIONS <= 48 * 1024, "the reduction's weights fit too");
    }

    @Test void blockTablesArePackedRowMajorAndPaddedWithZero() {
        List<List<Integer>> tables = List.of(List.of(5, 2), List.of(), List.of(7, 1, 3));
        int m = PagedAttentionKernel.maxBlocks(tables);
        assertEquals(3, m);
        assertArrayEquals(new int[] {5, 2, 0, 0, 0, 0, 7, 1, 3}, PagedAttentionKernel.packBlockTables(tables, m));
        assertThrows(IllegalArgumentException.class, () -> PagedAttentionKernel.packBlockTables(tables, 2));
        assertEquals(1, PagedAttentionKernel.maxBlocks(List.of()));
    }

    @Test void aStepIsValidatedBeforeAnyLaunch() {
        var c = new PagedAttentionKernel.Config(DType.F16, 4, 2, 64, 16, 8);
        PagedAttentionKernel.validate(c, new int[] {32, 0, 17}, new int[] {1, 2, 0, 0, 3, 4}, 2);
        var e = assertThrows(IllegalArgumentException.class, () -> PagedAttentionKernel.validate(c, new int[] {33}, new int[] {1, 2}, 2));
        assertEquals("tessel.paged_attention: sequence 0's context of 33 tokens is longer than its block table (2 blocks of 16 tokens = 32 slots)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> PagedAttentionKernel.validate(c, new int[] {20}, new int[] {1, 8}, 2));
        assertTrue(e.getMessage().contains("block 8, outside the pool of 8"), e.getMessage());
        // an unused entry past the context is not read, so not checked
        PagedAttentionKernel.validate(c, new int[] {16}, new int[] {1, -7}, 2);
        assertThrows(IllegalArgumentException.class, () -> PagedAttentionKernel.validate(c, new int[] {-1}, new int[] {1, 2}, 2));
        assertThrows(IllegalArgumentException.class, () -> PagedAttentionKernel.validate(c, new int[] {1, 1}, new int[] {1, 2}, 2));
        PagedAttentionKernel.validateSlots(c, new int[] {0, -1, 127});
        e = assertThrows(IllegalArgumentException.class, () -> PagedAttentionKernel.validateSlots(c, new int[] {128}));
        assertTrue(e.getMessage().contains("outside the pool's 128 slots"), e.getMessage());
    }

    /**
     * The kernels' arithmetic replayed in Java: each partition's softmax with its own max, outputs
     * normalised by its own sum, then weights sum_i * exp(max_i - M) over partitions; equal to one
     * softmax over the whole context for every partition size.
     */
    @Test void partitionedSoftmaxCombinesToTheWholeContextsSoftmax() {
        SplittableRandom r = new SplittableRandom(3);
        int n = 1000, d = 8;
        double[] s = new double[n];
        double[][] v = new double[n][d];
        for (int t = 0; t < n; t++) {
            s[t] = 6 * r.nextGaussian();
            for (int j = 0; j < d; j++) v[t][j] = r.nextDouble() * 2 - 1;
        }
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (double x : s) max = Math.max(max, x);
        double[] want = new double[d];
        for (int t = 0; t < n; t++) sum += Math.exp(s[t] - max);
        for (int t = 0; t < n; t++) for (int j = 0; j < d; j++) want[j] += Math.exp(s[t] - max) / sum * v[t][j];
        for (int part : new int[] {64, 128, 512, 1000, 4096}) {
            int parts = (n + part - 1) / part;
            double[] pm = new double[parts], ps = new double[parts];
            double[][] po = new double[parts][d];
            for (int p = 0; p < parts; p++) {
                int a = p * part, b = Math.min(n, a + part);
                pm[p] = Double.NEGATIVE_INFINITY;
                for (int t = a; t < b; t++) pm[p] = Math.max(pm[p], s[t]);
                for (int t = a; t < b; t++) ps[p] += Math.exp(s[t] - pm[p]);
                for (int t = a; t < b; t++) for (int j = 0; j < d; j++) po[p][j] += Math.exp(s[t] - pm[p]) * v[t][j] / ps[p];
            }
            double m = Double.NEGATIVE_INFINITY, wsum = 0;
            for (double x : pm) m = Math.max(m, x);
            double[] got = new double[d];
            for (int p = 0; p < parts; p++) {
                double w = ps[p] * Math.exp(pm[p] - m);
                wsum += w;
                for (int j = 0; j < d; j++) got[j] += w * po[p][j];
            }
            for (int j = 0; j < d; j++) got[j] /= wsum;
            assertArrayEquals(want, got, 1e-12, "partition " + part);
        }
    }
}

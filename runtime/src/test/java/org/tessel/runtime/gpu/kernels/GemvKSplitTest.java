package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessel.api.DType;

/**
 * The GEMVs' K split ({@link Gemv#kSplit}, {@link WeightOnlyGemv#kSplit}) without a GPU: the smallest of 1, 2, 4 warps a
 * row group that gives the launch 32 warps per SM, at most one 32-lane slice of 16-byte chunks a warp; at llama-1b's
 * decode projections on an H100/H200's 132 SMs, and the blocks each split launches.
 */
class GemvKSplitTest {
    static final int SMS = 132;

    /** llama-1b's decode GEMVs: merged Q/K/V (N 2560), o_proj (2048), merged gate/up (11264), down_proj (K 5632), lm_head (32000). */
    @Test void llama1bProjectionsAtFp16() {
        assertEquals(4, Gemv.kSplit(2560, 2048, DType.F16, SMS), "QKV: 1280 row groups, x4 = 5120 warps >= 4224");
        assertEquals(4, Gemv.kSplit(2048, 2048, DType.F16, SMS), "o_proj: 1024 row groups, even x4 = 4096 short of 4224: the most K allows");
        assertEquals(1, Gemv.kSplit(11264, 2048, DType.F16, SMS), "gate/up: 5632 row groups already fill the SMs");
        assertEquals(4, Gemv.kSplit(2048, 5632, DType.F16, SMS), "down_proj");
        assertEquals(1, Gemv.kSplit(32000, 2048, DType.F16, SMS), "lm_head");
        assertEquals(2, Gemv.kSplit(5632, 2048, DType.F16, SMS), "an unmerged gate_proj: 2816 row groups, x2 = 5632");
    }

    /** INT4 in groups of 128: 32 codes a chunk, so K=2048 has 64 chunks a row, room for 2 warps' slices only. */
    @Test void llama1bProjectionsAtInt4() {
        assertEquals(2, WeightOnlyGemv.kSplit(2560, 2048, 4, 1, SMS), "QKV: capped by K's 64 chunks");
        assertEquals(2, WeightOnlyGemv.kSplit(2048, 2048, 4, 1, SMS), "o_proj");
        assertEquals(1, WeightOnlyGemv.kSplit(11264, 2048, 4, 1, SMS), "gate/up");
        assertEquals(4, WeightOnlyGemv.kSplit(2048, 5632, 4, 1, SMS), "down_proj: 176 chunks");
        assertEquals(1, WeightOnlyGemv.kSplit(32000, 2048, 4, 1, SMS), "lm_head");
        assertEquals(4, WeightOnlyGemv.kSplit(2048, 2048, 8, 1, SMS), "INT8 o_proj: 128 chunks");
        assertEquals(1, WeightOnlyGemv.kSplit(2048, 5632, 4, 1, 1), "one SM needs no split");
    }

    /** The grid's passes (more than 8 activation rows) count as warps too. */
    @Test void passesCountAsWarps() {
        assertEquals(4, WeightOnlyGemv.kSplit(2048, 5632, 4, 8, SMS), "one pass");
        assertEquals(4, WeightOnlyGemv.kSplit(2048, 5632, 4, 9, SMS), "two passes: 2048 row groups, x2 = 4096 short of 4224");
        assertEquals(2, WeightOnlyGemv.kSplit(2048, 5632, 4, 17, SMS), "three passes: 3072 row groups, x2 = 6144");
        assertEquals(1, WeightOnlyGemv.kSplit(2048, 5632, 4, 64, SMS), "eight passes: 8192 warps");
    }

    /** Every warp gets at least one 32-lane slice: K's chunks bound the split whatever the SM count. */
    @Test void kBoundsTheSplit() {
        assertEquals(1, Gemv.kSplit(75, 256, DType.F16, SMS), "32 chunks: one slice");
        assertEquals(1, Gemv.kSplit(75, 496, DType.F16, SMS), "62 chunks: one full slice for a second warp is missing");
        assertEquals(2, Gemv.kSplit(75, 512, DType.F16, SMS), "64 chunks");
        assertEquals(2, Gemv.kSplit(75, 1016, DType.F16, SMS), "127 chunks");
        assertEquals(4, Gemv.kSplit(75, 1032, DType.F16, SMS), "129 chunks");
        assertEquals(4, Gemv.kSplit(75, 512, DType.F32, SMS), "f32: 4 elements a chunk, 128 chunks");
        assertEquals(1, Gemv.kSplit(75, 64, DType.F32, SMS));
    }

    @Test void blocksHoldFewerColumnsAsKIsSplit() {
        assertEquals(10, Gemv.blocks(75, 1), "8 columns a block");
        assertEquals(19, Gemv.blocks(75, 2), "4 columns a block");
        assertEquals(38, Gemv.blocks(75, 4), "2 columns a block");
        assertEquals(512, WeightOnlyGemv.blocks(2048, 2));
        assertThrows(IllegalArgumentException.class, () -> Gemv.source(DType.F16, 1, null, null, 3));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WeightOnlyGemv.source(DType.F16, DType.F16, 4, 1, null, null, 8));
        assertTrue(e.getMessage().contains("1, 2 or 4 warps, got 8"), e.getMessage());
        assertTrue(Gemv.source(DType.F16, 1, null, null, 4).contains("#define GV_KSPLIT 4\n"));
        assertTrue(WeightOnlyGemv.source(DType.F16, DType.F16, 4, 1, null, null, 2).contains("#define WO_KSPLIT 2\n"));
    }
}

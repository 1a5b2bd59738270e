package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessel.api.DType;

/** The tensor-core attention kernel's operand rule and shape rule (no GPU needed). */
class MmaAttentionTest {
    static TransformerKernels.AttentionStrides ld(long hd) { return new TransformerKernels.AttentionStrides(hd, hd, hd, hd, 128); }

    @Test void takesF16WithHeadSizesOfSixteenAndAlignedRows() {
        assertNull(MmaAttention.unsupportedReason(DType.F16, 32, 12, 64, ld(768)));
        assertNull(MmaAttention.unsupportedReason(DType.F16, 1, 2, 128, ld(256)));
        assertNull(MmaAttention.unsupportedReason(DType.F16, 4, 3, 16, ld(48)));
    }

    @Test void refusesWhatItCannotRunSayingWhy() {
        assertTrue(MmaAttention.unsupportedReason(DType.F32, 32, 12, 64, ld(768)).contains("f32"));
        assertTrue(MmaAttention.unsupportedReason(DType.F16, 32, 12, 72, ld(864)).contains("head size 72"));
        assertTrue(MmaAttention.unsupportedReason(DType.F16, 32, 12, 24, ld(288)).contains("head size 24"));
        assertTrue(MmaAttention.unsupportedReason(DType.F16, 1, 1, 256, ld(256)).contains("head size 256"));
        assertTrue(MmaAttention.unsupportedReason(DType.F16, 1, 1, 64, new TransformerKernels.AttentionStrides(68, 64, 64, 64, 0)).contains("row stride 68"));
        assertTrue(MmaAttention.unsupportedReason(DType.F16, 70000, 1, 64, ld(64)).contains("65535"));
    }
}

package org.tessel.runtime.gpu.kernels;

import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;

/**
 * {@code tessel.attention.mma} (attention_mma.cu, checked on H100s by {@link MmaAttentionGpuTest}) on the emulated device:
 * the shim's software versions of mma.cuh's PTX (the m16n8k16 mma, cp.async, ldmatrix.trans, shared-window addresses)
 * must give the reference's attention for a kernel known to be right on the hardware, so the emulated device can check
 * the other kernels written on them (the paged prefill's tensor-core form, {@code PagedPrefillMmaEmulatedTest}). Three of
 * the GPU test's cases: head sizes 32, 128 and 16, key lengths not a multiple of the 64-key tile, with and without a mask.
 */
class MmaAttentionEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    @Test void theEmulatedPtxGivesTheHardwareCheckedKernelsResults() {
        SplittableRandom r = new SplittableRandom(55);
        try (KernelCompiler kc = new KernelCompiler(ctx)) {
            for (int[] c : new int[][] {{2, 4, 77, 130, 32, 1}, {3, 2, 65, 64, 128, 1}, {2, 3, 17, 200, 16, 0}})
                MmaAttentionGpuTest.checkCase(kc, CudaStream.DEFAULT, r, c, DType.F16, "tessel.attention.mma (emulated) B" + c[0] + " H" + c[1] + " Sq" + c[2] + " Sk" + c[3] + " D" + c[4]);
        }
    }
}

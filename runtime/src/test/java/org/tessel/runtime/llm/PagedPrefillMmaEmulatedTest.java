package org.tessel.runtime.llm;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.PagedAttentionKernel;

/**
 * The tensor-core paged prefill ({@code tessel.attention.paged/mma}, paged_prefill_mma.cu) on the emulated device, whose
 * shim runs mma.cuh's PTX in software (the m16n8k16 mma by lane shuffles, cp.async at once, ldmatrix.trans by shuffled
 * row addresses): kernel logic and launch arguments, not speed. {@link PagedPrefillGpuTest}'s cases against the host's
 * causal attention in double: chunks of 70 and 80 new tokens after pasts of 150 and 0 tokens and one of 5 (two query tiles
 * of 64, key tiles through scattered blocks, padding), grouped-query heads, head sizes 16, 64 (two copy stages) and 128
 * (one), blocks of 16 and 8; the tiled form on the same cases beside it.
 */
class PagedPrefillMmaEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    @Test void theTensorCoreFormAttendsAsTheHostDoes() {
        try (KernelCompiler kc = new KernelCompiler(ctx)) {
            for (int hd : new int[] {16, 64, 128}) PagedPrefillGpuTest.oneConfig(kc, PagedAttentionKernel.PrefillForm.MMA, DType.F16, 8, 2, hd, 16);
            PagedPrefillGpuTest.oneConfig(kc, PagedAttentionKernel.PrefillForm.MMA, DType.F16, 4, 4, 64, 8);
        }
    }

    @Test void theTiledFormOnTheSameCases() {
        try (KernelCompiler kc = new KernelCompiler(ctx)) {
            PagedPrefillGpuTest.oneConfig(kc, PagedAttentionKernel.PrefillForm.TILED, DType.F16, 8, 2, 64, 16);
        }
    }
}

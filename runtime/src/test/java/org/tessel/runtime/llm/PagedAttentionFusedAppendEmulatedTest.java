package org.tessel.runtime.llm;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.kernels.KernelCompiler;

/**
 * {@link org.tessel.runtime.gpu.kernels.PagedAttentionKernel#appendAndDecode} on the emulated device (kernel logic and
 * launch arguments, not speed), by {@link FusedDecodeCheck}: a decode step whose new tokens are seen in the same launch
 * that writes them, against append then decode (bit for bit, output and pools) and the CPU reference, split and unsplit,
 * f16 pools and FP8 pools under bf16 q, 18 heads over 2 KV heads (3 thread blocks of 3 heads share each KV head).
 */
class PagedAttentionFusedAppendEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    @Test void f16PoolsSeeTheNewTokenInTheLaunchThatWritesIt() {
        try (KernelCompiler kc = new KernelCompiler(ctx)) {
            System.out.println(FusedDecodeCheck.check(kc, DType.F16, DType.F16, 18, 2, 64, 16));
        }
    }

    @Test void fp8PoolsUseTheNewTokenAsThePoolWillHoldIt() {
        try (KernelCompiler kc = new KernelCompiler(ctx)) {
            System.out.println(FusedDecodeCheck.check(kc, DType.BF16, DType.F8E4M3, 18, 2, 64, 16));
        }
    }
}

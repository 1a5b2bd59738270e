package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;

/**
 * Source and launch geometry of the weight-only GEMV ({@code weight_only_gemv.cu}: the decode step of
 * {@code tessel.WeightOnlyMatMul} at batch 1, tactic ids {@code tessel.gemv.w4a16} and {@code tessel.gemv.w8a16}).
 * Written without a GPU: checked by nvcc and by running it on the host under the CUDA emulation shim
 * against the op's reference (WeightOnlyGemvTest). Not in the tactic catalogue and not wired into the
 * GPU engine yet.
 */
public final class WeightOnlyGemv {
    private WeightOnlyGemv() {}

    /** Output rows per warp. */
    public static final int ROWS_PER_WARP = 2;
    /** Threads per block (4 warps). */
    public static final int THREADS = 128;

    /** The kernel source for f16 or bf16 activations and 4- or 8-bit codes. */
    public static String source(DType activations, int bits) {
        if (activations != DType.F16 && activations != DType.BF16) throw new IllegalArgumentException("the GEMV takes f16 or bf16 activations, got " + activations.text());
        if (bits != 4 && bits != 8) throw new IllegalArgumentException("bits must be 4 or 8, got " + bits);
        return KernelCompiler.prelude() + "#define WO_BITS " + bits + "\n#define WO_ROWS " + ROWS_PER_WARP + "\n#define WO_BF16 " + (activations == DType.BF16 ? 1 : 0)
                + "\n" + KernelCompiler.resource("weight_only_gemv.cu");
    }

    /** Why the kernel cannot run a K and group size at these bits (16-byte chunks within one group), or null. */
    public static String whyNot(int k, int group, int bits) {
        int codes = bits == 4 ? 32 : 16;
        if (k % codes != 0) return "K=" + k + " is not a multiple of " + codes + " (16-byte weight loads)";
        if (group % codes != 0) return "group size " + group + " is not a multiple of " + codes + " (a 16-byte chunk would span two groups)";
        if (k % group != 0) return "group size " + group + " does not divide K=" + k;
        return null;
    }

    /**
     * Launches y[m, n] = x[m, k] W^T on {@code stream}: x and y f16/bf16 ({@code t}), codes and f16 scales
     * as {@code WeightQuantizer} lays them out, {@code zeros} null for symmetric codes. Refuses, before
     * any launch, shapes the 16-byte loads do not fit.
     */
    public static void launch(KernelCompiler kc, DType t, int bits, int group, int m, int n, int k, org.tessel.runtime.cuda.DeviceBuffer x,
                              org.tessel.runtime.cuda.DeviceBuffer codes, org.tessel.runtime.cuda.DeviceBuffer scales, org.tessel.runtime.cuda.DeviceBuffer zeros,
                              org.tessel.runtime.cuda.DeviceBuffer y, org.tessel.runtime.cuda.CudaStream stream) {
        String why = whyNot(k, group, bits);
        if (why != null) throw new IllegalArgumentException("tessel.gemv.w" + bits + "a16: " + why);
        if (m < 1 || m > 65535) throw new IllegalArgumentException("tessel.gemv.w" + bits + "a16: " + m + " activation rows (1 to 65535)");
        String program = "tessel_gemv_w" + bits + "a16_" + t.text() + ".cu";
        var kernel = kc.kernel(program, () -> source(t, bits), "tessel_gemv_wo");
        var args = org.tessel.runtime.cuda.CudaKernel.args().ptr(x).ptr(codes).ptr(scales).ptr(zeros == null ? 0L : zeros.address()).ptr(y).i32(n).i32(k).i32(group);
        kernel.launch(blocks(n), m, 1, THREADS, 1, 1, 0, stream, args);
    }

    /** Blocks along N for {@code n} output rows. */
    public static int blocks(int n) { return (n + THREADS / 32 * ROWS_PER_WARP - 1) / (THREADS / 32 * ROWS_PER_WARP); }
}

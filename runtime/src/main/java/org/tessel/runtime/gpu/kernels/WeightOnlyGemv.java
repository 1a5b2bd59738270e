package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;
import org.tessel.tactics.gemm.QuantizedMatMulTactic;

/**
 * Tactic {@code tessel.gemv.weight_only}: the decode step of {@code tessel.WeightOnlyMatMul} ({@code weight_only_gemv.cu}),
 * a warp per {@value #ROWS_PER_WARP} weight rows, 16-byte loads of codes and activations, dequantized in registers,
 * f32 sums. Activations f32, f16 or bf16; scales in their stored type; codes and zero points as {@code WeightQuantizer}
 * lays them out.
 */
public final class WeightOnlyGemv {
    private WeightOnlyGemv() {}

    /** Output rows per warp. */
    public static final int ROWS_PER_WARP = 2;
    /** Threads per block (4 warps). */
    public static final int THREADS = 128;

    /** The kernel source for activations {@code t}, scales {@code scaleType} and 4- or 8-bit codes. */
    public static String source(DType t, DType scaleType, int bits) {
        CudaTypes.require(t, "tessel_gemv_wo activations");
        CudaTypes.require(scaleType, "tessel_gemv_wo scales");
        if (bits != 4 && bits != 8) throw new IllegalArgumentException("bits must be 4 or 8, got " + bits);
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + CudaTypes.typedefs("S", scaleType) + "#define WO_BITS " + bits + "\n#define WO_ROWS " + ROWS_PER_WARP
                + "\n#define WO_F32 " + (t == DType.F32 ? 1 : 0) + "\n" + KernelCompiler.resource("weight_only_gemv.cu");
    }

    /** Why the kernel cannot run a K and group size at these bits (16-byte chunks within one group), or null. */
    public static String whyNot(int k, int group, int bits) {
        int codes = QuantizedMatMulTactic.codesPerChunk(bits);
        if (k % codes != 0) return "K=" + k + " is not a multiple of " + codes + " (16-byte weight loads)";
        if (group % codes != 0) return "group size " + group + " is not a multiple of " + codes + " (a 16-byte chunk would span two groups)";
        if (k % group != 0) return "group size " + group + " does not divide K=" + k;
        return null;
    }

    /**
     * Launches y[m, n] = x[m, k] W^T on {@code stream}: x and y in {@code t}, codes and scales ({@code scaleType}) as
     * {@code WeightQuantizer} lays them out, {@code zeros} null for symmetric codes. Refuses, before any launch, shapes
     * the 16-byte loads do not fit and buffers too small for them.
     */
    public static void launch(KernelCompiler kc, DType t, DType scaleType, int bits, int group, int m, int n, int k, DeviceBuffer x,
                              DeviceBuffer codes, DeviceBuffer scales, DeviceBuffer zeros, DeviceBuffer y, CudaStream stream) {
        String why = whyNot(k, group, bits);
        if (why != null) throw new IllegalArgumentException("weight-only GEMV: " + why);
        if (m < 1 || m > 65535) throw new IllegalArgumentException("weight-only GEMV: " + m + " activation rows (1 to 65535)");
        WeightOnlyGemm.checkBuffers(t, scaleType, bits, group, m, n, k, x, codes, scales, zeros, y);
        if (x.address() % 16 != 0 || codes.address() % 16 != 0)
            throw new IllegalArgumentException("weight-only GEMV: activations and codes must start on 16 bytes (the 16-byte loads), got addresses "
                    + Long.toHexString(x.address()) + " and " + Long.toHexString(codes.address()));
        String program = "tessel_gemv_w" + bits + "_" + t.text() + "_s" + scaleType.text() + ".cu";
        var kernel = kc.kernel(program, () -> source(t, scaleType, bits), "tessel_gemv_wo");
        var args = CudaKernel.args().ptr(x).ptr(codes).ptr(scales).ptr(zeros == null ? 0L : zeros.address()).ptr(y).i32(n).i32(k).i32(group);
        kernel.launch(blocks(n), m, 1, THREADS, 1, 1, 0, stream, args);
    }

    /** Blocks along N for {@code n} output rows. */
    public static int blocks(int n) { return (n + THREADS / 32 * ROWS_PER_WARP - 1) / (THREADS / 32 * ROWS_PER_WARP); }
}

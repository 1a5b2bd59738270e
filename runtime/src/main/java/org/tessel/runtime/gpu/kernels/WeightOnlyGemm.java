package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.gemm.weight_only}: {@code tessel.WeightOnlyMatMul} for any number of activation rows
 * ({@code weight_only_gemm.cu}): 64x64 output tiles of 16x16 threads, each K slice of the codes dequantized once into
 * shared memory, f32 math in k order. Any K the op allows.
 */
public final class WeightOnlyGemm {
    private WeightOnlyGemm() {}

    /** Output tile side. */
    public static final int TILE = 64;

    public static String source(DType t, DType scaleType, int bits) {
        CudaTypes.require(t, "tessel_gemm_wo activations");
        CudaTypes.require(scaleType, "tessel_gemm_wo scales");
        if (bits != 4 && bits != 8) throw new IllegalArgumentException("bits must be 4 or 8, got " + bits);
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + CudaTypes.typedefs("S", scaleType) + "#define WO_BITS " + bits + "\n"
                + KernelCompiler.resource("weight_only_gemm.cu");
    }

    /** y[m, n] = x[m, k] dequantize(W)^T; operands as {@link WeightOnlyGemv#launch} takes them. */
    public static void run(KernelCompiler kc, DType t, DType scaleType, int bits, int group, int m, int n, int k, DeviceBuffer x,
                           DeviceBuffer codes, DeviceBuffer scales, DeviceBuffer zeros, DeviceBuffer y, CudaStream stream) {
        if (group < 1 || k % group != 0) throw new IllegalArgumentException("weight-only GEMM: group size " + group + " does not divide K=" + k);
        long tilesM = (m + TILE - 1L) / TILE;
        if (m < 1 || tilesM > 65535) throw new IllegalArgumentException("weight-only GEMM: " + m + " activation rows (1 to " + 65535L * TILE + ")");
        checkBuffers(t, scaleType, bits, group, m, n, k, x, codes, scales, zeros, y);
        String program = "tessel_gemm_wo_w" + bits + "_" + t.text() + "_s" + scaleType.text() + ".cu";
        var kernel = kc.kernel(program, () -> source(t, scaleType, bits), "tessel_gemm_wo");
        var args = CudaKernel.args().ptr(x).ptr(codes).ptr(scales).ptr(zeros == null ? 0L : zeros.address()).ptr(y).i32(m).i32(n).i32(k).i32(group);
        kernel.launch((n + TILE - 1) / TILE, (int) tilesM, 1, 16, 16, 1, 0, stream, args);
    }

    /** Fails naming the operand when a buffer is smaller than the shapes need. */
    static void checkBuffers(DType t, DType scaleType, int bits, int group, int m, int n, int k, DeviceBuffer x, DeviceBuffer codes, DeviceBuffer scales,
                             DeviceBuffer zeros, DeviceBuffer y) {
        long groups = (long) n * (k / group);
        Softmax.check(x, t, (long) m * k, "weight-only activations");
        Softmax.check(y, t, (long) m * n, "weight-only output");
        Softmax.check(codes, DType.U8, bits == 4 ? (long) n * (k / 2) : (long) n * k, "weight-only codes");
        Softmax.check(scales, scaleType, groups, "weight-only scales");
        if (zeros != null) Softmax.check(zeros, DType.U8, groups, "weight-only zero points");
    }
}

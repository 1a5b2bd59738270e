package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.layernorm}: layer normalization over the last {@code len} elements of each
 * of {@code rows} rows, with scale {@code gamma} and optional shift {@code beta} of {@code len}
 * elements. Rows of at most {@link #WARP_ROW_MAX} elements, a multiple of 4, on buffers aligned for 4-element
 * accesses run one warp per row from registers ({@code tessel_layernorm_warp}); others one block per row.
 * Tactic {@code tessel.rmsnorm} ({@link #runRms}): the same kernels without the mean and the shift, y = x /
 * sqrt(mean(x^2) + eps) * gamma, the warp per row for rows of up to {@link #RMS_WARP_ROW_MAX}.
 */
public final class LayerNorm {
    private LayerNorm() {}

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t)
                + "#define LD4_T tessel_ld4_" + t.text() + "\n#define ST4_T tessel_st4_" + t.text() + "\n"
                + KernelCompiler.resource("layernorm.cu");
    }

    /** The longest row the warp-per-row layer-norm kernel takes (32 lanes x 8 chunks of 4; tessel_layernorm_warp in layernorm.cu). */
    static final int WARP_ROW_MAX = 32 * 4 * 8;
    /** The longest row the warp-per-row RMS-norm kernel takes (32 lanes x 16 chunks of 4; tessel_rmsnorm_warp). */
    static final int RMS_WARP_ROW_MAX = 32 * 4 * 16;
    /** Threads per block of the warp-per-row kernel: 4 rows a block. */
    private static final int WARP_BLOCK = 128;

    /** Whether {@link #run} ({@link #runRms} with maxLen {@link #RMS_WARP_ROW_MAX}) takes the warp-per-row kernel for these rows and buffers. */
    static boolean warpPerRow(DType t, int len, int maxLen, DeviceBuffer... buffers) {
        if (len % 4 != 0 || len > maxLen) return false;
        long align = 4L * t.bytes();
        for (DeviceBuffer b : buffers) if (b != null && b.address() % align != 0) return false;
        return true;
    }

    public static void run(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer gamma, DeviceBuffer beta, DeviceBuffer y,
                           int rows, int len, float epsilon, CudaStream stream) {
        CudaTypes.require(t, "tessel.layernorm");
        if (rows <= 0 || len <= 0) throw new IllegalArgumentException("tessel.layernorm: rows and len must be positive, got " + rows + " x " + len);
        Softmax.check(x, t, (long) rows * len, "input");
        Softmax.check(y, t, (long) rows * len, "output");
        Softmax.check(gamma, t, len, "scale");
        if (beta != null) Softmax.check(beta, t, len, "bias");
        String file = "tessel_layernorm_" + t.text() + ".cu";
        CudaKernel.Args args = CudaKernel.args().ptr(x).ptr(gamma).ptr(beta == null ? 0 : beta.address())
                .ptr(y).i32(rows).i32(len).f32(epsilon);
        if (warpPerRow(t, len, WARP_ROW_MAX, x, gamma, beta, y)) {
            int rowsPerBlock = WARP_BLOCK / 32;
            kc.kernel(file, () -> source(t), "tessel_layernorm_warp").launch((rows + rowsPerBlock - 1) / rowsPerBlock, WARP_BLOCK, 0, stream, args);
            return;
        }
        CudaKernel k = kc.kernel(file, () -> source(t), "tessel_layernorm");
        k.launch(rows, Launch.rowBlock(len), 0, stream, args);
    }

    /** RMS normalization, tactic {@code tessel.rmsnorm}: y = x / sqrt(mean(x^2) + epsilon) * gamma over each row's {@code len} elements. */
    public static void runRms(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer gamma, DeviceBuffer y, int rows, int len, float epsilon, CudaStream stream) {
        CudaTypes.require(t, "tessel.rmsnorm");
        if (rows <= 0 || len <= 0) throw new IllegalArgumentException("tessel.rmsnorm: rows and len must be positive, got " + rows + " x " + len);
        Softmax.check(x, t, (long) rows * len, "input");
        Softmax.check(y, t, (long) rows * len, "output");
        Softmax.check(gamma, t, len, "scale");
        String file = "tessel_layernorm_" + t.text() + ".cu";
        CudaKernel.Args args = CudaKernel.args().ptr(x).ptr(gamma).ptr(y).i32(rows).i32(len).f32(epsilon);
        if (warpPerRow(t, len, RMS_WARP_ROW_MAX, x, gamma, y)) {
            int rowsPerBlock = WARP_BLOCK / 32;
            kc.kernel(file, () -> source(t), "tessel_rmsnorm_warp").launch((rows + rowsPerBlock - 1) / rowsPerBlock, WARP_BLOCK, 0, stream, args);
            return;
        }
        kc.kernel(file, () -> source(t), "tessel_rmsnorm").launch(rows, Launch.rowBlock(len), 0, stream, args);
    }
}

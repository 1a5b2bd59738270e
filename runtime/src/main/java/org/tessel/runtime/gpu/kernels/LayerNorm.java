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
 */
public final class LayerNorm {
    private LayerNorm() {}

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t)
                + "#define LD4_T tessel_ld4_" + t.text() + "\n#define ST4_T tessel_st4_" + t.text() + "\n"
                + KernelCompiler.resource("layernorm.cu");
    }

    /** The longest row the warp-per-row kernel takes (32 lanes x 8 chunks of 4; LN_CHUNKS in layernorm.cu). */
    static final int WARP_ROW_MAX = 32 * 4 * 8;
    /** Threads per block of the warp-per-row kernel: 4 rows a block. */
    private static final int WARP_BLOCK = 128;

    /** Whether {@link #run} takes the warp-per-row kernel for these rows and buffers. */
    static boolean warpPerRow(DType t, int len, DeviceBuffer... buffers) {
        if (len % 4 != 0 || len > WARP_ROW_MAX) return false;
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
        if (warpPerRow(t, len, x, gamma, beta, y)) {
            int rowsPerBlock = WARP_BLOCK / 32;
            kc.kernel(file, () -> source(t), "tessel_layernorm_warp").launch((rows + rowsPerBlock - 1) / rowsPerBlock, WARP_BLOCK, 0, stream, args);
            return;
        }
        CudaKernel k = kc.kernel(file, () -> source(t), "tessel_layernorm");
        k.launch(rows, Launch.rowBlock(len), 0, stream, args);
    }
}

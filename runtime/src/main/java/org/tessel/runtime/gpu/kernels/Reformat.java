package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.reformat.nchw_nhwc} (and {@code tessel.reformat.nhwc_nchw}): moves an image
 * tensor between channels-first and channels-last storage with a tiled shared-memory transpose, or, where one side
 * has at most {@value #NARROW} elements (an RGB input's channels), one thread per element of the long side.
 */
public final class Reformat {
    private Reformat() {}

    public static String source(DType t) {
        // the transpose copies bits, so the storage type alone matters
        return KernelCompiler.prelude() + "typedef " + (codes(t) ? "signed char" : CudaTypes.storage(t)) + " T;\n" + KernelCompiler.resource("transpose.cu");
    }

    /** One-byte codes (an INT8 plan's int8, an FP8 plan's E4M3), which the transpose moves as bytes. */
    private static boolean codes(DType t) { return t == DType.I8 || t == DType.F8E4M3; }

    /** x is [n][c][spatial] channels-first; y receives [n][spatial][c]. */
    public static void nchwToNhwc(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, int n, int c, int spatial, CudaStream stream) {
        transpose(kc, t, x, y, n, c, spatial, stream);
    }

    /** x is [n][spatial][c] channels-last; y receives [n][c][spatial]. */
    public static void nhwcToNchw(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, int n, int c, int spatial, CudaStream stream) {
        transpose(kc, t, x, y, n, spatial, c, stream);
    }

    /**
     * Widest narrow side the one-thread-per-index kernel takes: a 32 x 32 tile of a [3][H*W] plane holds 3 useful rows,
     * and the tiled kernel moved ResNet-50's b32 input (f32 [32, 3, 224, 224], 19 MB) in 106 us on an H100.
     */
    public static final int NARROW = 8;

    /** Transposes each of {@code batch} row-major [rows][cols] matrices. */
    public static void transpose(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, int batch, int rows, int cols, CudaStream stream) {
        if (!codes(t)) CudaTypes.require(t, "tessel.reformat");
        long elems = (long) batch * rows * cols;
        Softmax.check(x, t, elems, "input");
        Softmax.check(y, t, elems, "output");
        if (Math.min(rows, cols) <= NARROW && elems > 0) {
            long longSide = (long) batch * Math.max(rows, cols);
            int blocks = (int) Math.min((longSide + 255) / 256, 1L << 16);
            CudaKernel k = kc.kernel("tessel_transpose_" + t.bytes() + "B.cu", () -> source(t), "tessel_transpose_narrow");
            k.launch(blocks, 1, 1, 256, 1, 1, 0, stream, CudaKernel.args().ptr(x).ptr(y).i64(batch).i32(rows).i32(cols));
            return;
        }
        if (batch > 65535) throw new IllegalArgumentException("tessel.reformat: batch " + batch + " exceeds the grid's z limit 65535");
        CudaKernel k = kc.kernel("tessel_transpose_" + t.bytes() + "B.cu", () -> source(t), "tessel_transpose");
        k.launch((cols + 31) / 32, (rows + 31) / 32, batch, 32, 8, 1, 0, stream, CudaKernel.args().ptr(x).ptr(y).i32(rows).i32(cols));
    }
}

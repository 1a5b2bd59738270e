package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.reformat.nchw_nhwc} (and {@code tessel.reformat.nhwc_nchw}): moves an image
 * tensor between channels-first and channels-last storage with a tiled shared-memory transpose.
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

    /** Transposes each of {@code batch} row-major [rows][cols] matrices. */
    public static void transpose(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, int batch, int rows, int cols, CudaStream stream) {
        if (!codes(t)) CudaTypes.require(t, "tessel.reformat");
        long elems = (long) batch * rows * cols;
        Softmax.check(x, t, elems, "input");
        Softmax.check(y, t, elems, "output");
        if (batch > 65535) throw new IllegalArgumentException("tessel.reformat: batch " + batch + " exceeds the grid's z limit 65535");
        CudaKernel k = kc.kernel("tessel_transpose_" + t.bytes() + "B.cu", () -> source(t), "tessel_transpose");
        k.launch((cols + 31) / 32, (rows + 31) / 32, batch, 32, 8, 1, 0, stream, CudaKernel.args().ptr(x).ptr(y).i32(rows).i32(cols));
    }
}

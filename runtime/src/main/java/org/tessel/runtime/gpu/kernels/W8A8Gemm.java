package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.gemm.w8a8}: SmoothQuant's {@code tessel.W8A8MatMul} ({@code w8a8_gemm.cu}): the activations
 * quantized per tensor as 32x32 output tiles load them, exact int32 sums by dp4a, one f32 scale per output column.
 */
public final class W8A8Gemm {
    private W8A8Gemm() {}

    /** Output tile side. */
    public static final int TILE = 32;

    public static String source(DType t) {
        CudaTypes.require(t, "tessel_gemm_w8a8 activations");
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("w8a8_gemm.cu");
    }

    /** y[m, n] = (quantize(x) . w[n]) * aScale * wScales[n]: x, y in {@code t}, w i8 [n, k], wScales f32 [n], aScale one f32 (device). */
    public static void run(KernelCompiler kc, DType t, int m, int n, int k, DeviceBuffer x, DeviceBuffer w, DeviceBuffer wScales, DeviceBuffer aScale,
                           DeviceBuffer y, CudaStream stream) {
        long tilesM = (m + TILE - 1L) / TILE;
        if (m < 1 || tilesM > 65535) throw new IllegalArgumentException("W8A8 GEMM: " + m + " activation rows (1 to " + 65535L * TILE + ")");
        Softmax.check(x, t, (long) m * k, "W8A8 activations");
        Softmax.check(y, t, (long) m * n, "W8A8 output");
        Softmax.check(w, DType.I8, (long) n * k, "W8A8 weight codes");
        Softmax.check(wScales, DType.F32, n, "W8A8 weight scales");
        Softmax.check(aScale, DType.F32, 1, "W8A8 activation scale");
        var kernel = kc.kernel("tessel_gemm_w8a8_" + t.text() + ".cu", () -> source(t), "tessel_gemm_w8a8");
        kernel.launch((n + TILE - 1) / TILE, (int) tilesM, 1, 16, 16, 1, 0, stream, CudaKernel.args().ptr(x).ptr(w).ptr(wScales).ptr(aScale).ptr(y).i32(m).i32(n).i32(k));
    }
}

package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.gemv} ({@code gemv.cu}): a MatMul by constant weights at few activation rows, the decode step's
 * projections, as a memory-bound GEMV: the [K, N] weights repacked once as [N, K] rows ({@link #packWeights}), a warp per
 * {@value #ROWS_PER_WARP} rows, {@value #UNROLL} 16-byte loads a row in flight per lane, every activation row served by
 * one read of the weights, f32 sums. Weights and activations in one storage type (f32, f16 or bf16).
 */
public final class Gemv {
    private Gemv() {}

    /** Output columns (weight rows) per warp. */
    public static final int ROWS_PER_WARP = 2;
    /** Threads per block (4 warps). */
    public static final int THREADS = 128;
    /** 16-byte chunks of each weight row a lane loads before it uses any. */
    public static final int UNROLL = 4;
    /** Most activation rows one launch multiplies (each a register accumulator per weight row). */
    public static final int MAX_ROWS = 8;

    /** The kernel source for storage type {@code t} and {@code m} activation rows. */
    public static String source(DType t, int m) {
        CudaTypes.require(t, "tessel_gemv");
        if (m < 1 || m > MAX_ROWS) throw new IllegalArgumentException("tessel_gemv multiplies 1 to " + MAX_ROWS + " activation rows, got " + m);
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + "#define GV_M " + m + "\n#define GV_ROWS " + ROWS_PER_WARP + "\n#define GV_UNROLL " + UNROLL
                + "\n#define GV_F32 " + (t == DType.F32 ? 1 : 0) + "\n" + KernelCompiler.resource("gemv.cu");
    }

    /** Elements of {@code t} in a 16-byte chunk. */
    public static int chunkElements(DType t) { return 16 / t.bytes(); }

    /** The [K, N] weights (row-major) as [N, K] rows, the kernel's layout. */
    public static Tensor packWeights(Tensor kn) {
        if (kn.shape().rank() != 2) throw new IllegalArgumentException("tessel.gemv packs 2-D weights, got " + kn.shape());
        int k = kn.shape().dim(0), n = kn.shape().dim(1);
        float[] src = kn.floats(), dst = new float[src.length];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++) dst[j * k + i] = src[i * n + j];
        return Tensor.ofFloats(kn.dtype(), org.tessel.api.Shape.of(n, k), dst);
    }

    /**
     * Launches y[m, n] = x[m, k] W on {@code stream}, W given as its [N, K] rows ({@link #packWeights}), all three in {@code t}.
     * Refuses, before any launch, shapes the 16-byte loads do not fit and buffers too small or misaligned for them.
     */
    public static void launch(KernelCompiler kc, DType t, int m, int n, int k, DeviceBuffer x, DeviceBuffer w, DeviceBuffer y, CudaStream stream) {
        launch(kc, t, m, n, k, x, w, null, null, y, stream);
    }

    /** As above, adding {@code bias} [N] and {@code residual} [M, N] (each may be null) before the output's rounding. */
    public static void launch(KernelCompiler kc, DType t, int m, int n, int k, DeviceBuffer x, DeviceBuffer w, DeviceBuffer bias, DeviceBuffer residual, DeviceBuffer y,
                              CudaStream stream) {
        int epc = chunkElements(t);
        if (k % epc != 0) throw new IllegalArgumentException("tessel.gemv: K=" + k + " is not a multiple of " + epc + " (16-byte loads of " + t.text() + ")");
        if (m < 1 || m > MAX_ROWS) throw new IllegalArgumentException("tessel.gemv: " + m + " activation rows (1 to " + MAX_ROWS + ")");
        long es = t.bytes();
        if (x.bytes() < es * m * k || w.bytes() < es * (long) n * k || y.bytes() < es * m * n)
            throw new IllegalArgumentException("tessel.gemv: buffers of " + x.bytes() + ", " + w.bytes() + " and " + y.bytes() + " bytes are too small for [" + m + "x" + k + "] x ["
                    + k + "x" + n + "] in " + t.text());
        if (bias != null && bias.bytes() < es * n || residual != null && residual.bytes() < es * m * n)
            throw new IllegalArgumentException("tessel.gemv: a bias of " + (bias == null ? 0 : bias.bytes()) + " or residual of " + (residual == null ? 0 : residual.bytes())
                    + " bytes is too small for N=" + n + ", M=" + m + " in " + t.text());
        if (x.address() % 16 != 0 || w.address() % 16 != 0)
            throw new IllegalArgumentException("tessel.gemv: activations and weights must start on 16 bytes (the 16-byte loads), got addresses "
                    + Long.toHexString(x.address()) + " and " + Long.toHexString(w.address()));
        var kernel = kc.kernel("tessel_gemv_" + t.text() + "_m" + m + ".cu", () -> source(t, m), "tessel_gemv");
        kernel.launch(blocks(n), 1, 1, THREADS, 1, 1, 0, stream, CudaKernel.args().ptr(x).ptr(w).ptr(bias == null ? 0L : bias.address()).ptr(residual == null ? 0L : residual.address()).ptr(y).i32(n).i32(k));
    }

    /** Blocks for {@code n} output columns. */
    public static int blocks(int n) { return (n + THREADS / 32 * ROWS_PER_WARP - 1) / (THREADS / 32 * ROWS_PER_WARP); }
}

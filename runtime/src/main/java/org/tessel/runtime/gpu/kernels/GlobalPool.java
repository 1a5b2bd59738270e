package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.pool.global}: the mean of each (n, c) plane of an NCHW or NHWC tensor, a block of 512 threads per
 * plane (NCHW) or per 8 channels (NHWC) striding its H x W positions, f32 sums added in a fixed order
 * ({@code global_pool.cu}).
 */
public final class GlobalPool {
    private GlobalPool() {}

    /** Threads a block (global_pool.cu's GP_THREADS). */
    static final int THREADS = 512;

    /** Channels a block of the kernel averages in {@code layout}: 8 consecutive ones in NHWC, one plane in NCHW. */
    public static int channelsPerBlock(Layout layout) { return layout == Layout.NHWC ? 8 : 1; }

    public static String source(DType t, Layout layout) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + "#define GP_V " + channelsPerBlock(layout) + "\n#define GP_THREADS " + THREADS + "\n#define LAYOUT_" + (layout == Layout.NHWC ? "NHWC" : "NCHW") + "\n"
                + KernelCompiler.resource("global_pool.cu");
    }

    /** y [n, c] (any trailing 1 x 1) = the mean of x [n, c, h, w] (stored in {@code layout}) over h x w. */
    public static void run(KernelCompiler kc, DType t, Layout layout, int n, int c, int h, int w, DeviceBuffer x, DeviceBuffer y, CudaStream stream) {
        CudaTypes.require(t, "tessel.pool.global");
        if (n < 1 || c < 1 || h < 1 || w < 1) throw new IllegalArgumentException("tessel.pool.global: an empty tensor [" + n + ", " + c + ", " + h + ", " + w + "]");
        if ((long) h * w > Integer.MAX_VALUE) throw new IllegalArgumentException("tessel.pool.global: a plane of " + h + " x " + w + " positions exceeds 2^31 - 1");
        if (n > 65535) throw new IllegalArgumentException("tessel.pool.global: batch " + n + " exceeds the grid's 65535");
        Softmax.check(x, t, (long) n * c * h * w, "input");
        Softmax.check(y, t, (long) n * c, "output");
        Layout l = layout == Layout.NHWC ? Layout.NHWC : Layout.NCHW;
        int v = channelsPerBlock(l);
        CudaKernel k = kc.kernel("tessel_global_pool_" + l.text() + "_" + t.text() + ".cu", () -> source(t, l), "tessel_global_pool");
        k.launch((c + v - 1) / v, n, 1, THREADS, 1, 1, 0, stream, CudaKernel.args().ptr(x).ptr(y).i32(c).i32(h * w));
    }
}

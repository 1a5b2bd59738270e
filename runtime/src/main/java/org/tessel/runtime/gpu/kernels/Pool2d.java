package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactics {@code tessel.pool.max} and {@code tessel.pool.avg}: 2-D max and average pooling on NCHW
 * or NHWC data, with the reference's window rules (taps outside the input skipped; average over
 * the taps inside, or over the explicitly padded extent with count_include_pad).
 */
public final class Pool2d {
    private Pool2d() {}

    public enum Mode { MAX, AVG }

    /** Window geometry; output sizes come from the IR node (they encode ceil_mode and auto_pad). */
    public record Window(int n, int c, int h, int w, int oh, int ow, int kh, int kw, int sh, int sw,
                         int padTop, int padLeft, int padBottom, int padRight, int dh, int dw, boolean countIncludePad) {
        public long outputElements() { return (long) n * c * oh * ow; }
        public long inputElements() { return (long) n * c * h * w; }
    }

    public static String source(DType t, Mode mode, Layout layout) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t)
                + "#define POOL_" + mode.name() + "\n#define LAYOUT_" + (layout == Layout.NHWC ? "NHWC" : "NCHW") + "\n"
                + KernelCompiler.resource("pool2d.cu");
    }

    public static void run(KernelCompiler kc, DType t, Mode mode, Layout layout, Window p, DeviceBuffer x, DeviceBuffer y, CudaStream stream) {
        CudaTypes.require(t, "tessel.pool");
        Softmax.check(x, t, p.inputElements(), "input");
        Softmax.check(y, t, p.outputElements(), "output");
        CudaKernel k = kc.kernel("tessel_pool_" + mode.name().toLowerCase(java.util.Locale.ROOT) + "_" + layout.text() + "_" + t.text() + ".cu",
                () -> source(t, mode, layout), "tessel_pool2d");
        k.launch(Launch.gridFor(p.outputElements(), 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y)
                .i32(p.n()).i32(p.c()).i32(p.h()).i32(p.w()).i32(p.oh()).i32(p.ow()).i32(p.kh()).i32(p.kw()).i32(p.sh()).i32(p.sw())
                .i32(p.padTop()).i32(p.padLeft()).i32(p.padBottom()).i32(p.padRight()).i32(p.dh()).i32(p.dw()).i32(p.countIncludePad() ? 1 : 0));
    }
}

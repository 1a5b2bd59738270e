package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactics {@code tessel.resize} (rank-4 nearest/bilinear resize of H and W through host-built tap
 * tables), {@code tessel.reduce} (sum, mean or max over the middle axis of [outer, R, inner]) and
 * {@code tessel.batchnorm} (per-channel affine y = x * a[c] + b[c]); storage f32, f16 or bf16, math f32.
 */
public final class MoreKernels {
    private MoreKernels() {}

    /** Reduction kinds, in the kernels' numbering. */
    public enum ReduceOp { SUM, MEAN, MAX }

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("more.cu");
    }

    private static CudaKernel kernel(KernelCompiler kc, DType t, String fn) {
        CudaTypes.require(t, fn);
        return kc.kernel("tessel_more_" + t.text() + ".cu", () -> source(t), fn);
    }

    /**
     * Resize x [n, c, h, w] (NCHW, or NHWC when {@code nhwc}) to [n, c, oh, ow]; {@code taps} holds
     * 3*oh + 3*ow ints (see more.cu).
     */
    public static void resize(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, DeviceBuffer taps, int n, int c, int h, int w, int oh, int ow,
                              boolean nhwc, boolean nearest, CudaStream stream) {
        long in = (long) n * c * h * w, total = (long) n * c * oh * ow;
        Softmax.check(x, t, in, "resize input");
        Softmax.check(y, t, total, "resize output");
        if (taps.bytes() < 4L * 3 * (oh + ow)) throw new IllegalArgumentException("resize tap table holds " + taps.bytes() + " bytes, needs " + 12L * (oh + ow));
        if (total == 0) return;
        kernel(kc, t, "tessel_resize").launch(Launch.gridFor(total, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).ptr(taps)
                .i64(total).i32(c).i32(h).i32(w).i32(oh).i32(ow).i32(nhwc ? 1 : 0).i32(nearest ? 1 : 0));
    }

    /** Reduces x [outer, r, inner] over its middle axis into y [outer, inner]. */
    public static void reduce(KernelCompiler kc, DType t, ReduceOp op, DeviceBuffer x, DeviceBuffer y, long outer, long r, long inner, CudaStream stream) {
        if (outer < 0 || r < 1 || inner < 0) throw new IllegalArgumentException("tessel.reduce: bad extents [" + outer + ", " + r + ", " + inner + "]");
        Softmax.check(x, t, outer * r * inner, "reduce input");
        Softmax.check(y, t, outer * inner, "reduce output");
        if (outer * inner == 0) return;
        if (inner == 1 && r >= 64) {
            int block = Launch.rowBlock((int) Math.min(r, Integer.MAX_VALUE));
            kernel(kc, t, "tessel_reduce_rows").launch((int) Math.min(outer, 65536L * 8), block, 0, stream,
                    CudaKernel.args().ptr(x).ptr(y).i64(outer).i64(r).i32(op.ordinal()));
        } else {
            kernel(kc, t, "tessel_reduce_cols").launch(Launch.gridFor(outer * inner, 256), 256, 0, stream,
                    CudaKernel.args().ptr(x).ptr(y).i64(outer).i64(r).i64(inner).i32(op.ordinal()));
        }
    }

    /** y = x * a[ch] + b[ch] over x [n, c, inner] (NCHW) or [n, inner, c] (NHWC); a and b are f32 [c]. */
    public static void batchnorm(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, DeviceBuffer a, DeviceBuffer b, long n, int c, long inner,
                                 boolean nhwc, CudaStream stream) {
        long total = n * c * inner;
        Softmax.check(x, t, total, "batchnorm input");
        Softmax.check(y, t, total, "batchnorm output");
        if (a.bytes() < 4L * c || b.bytes() < 4L * c) throw new IllegalArgumentException("batchnorm per-channel tables need " + c + " f32 values");
        if (total == 0) return;
        kernel(kc, t, "tessel_batchnorm").launch(Launch.gridFor(total, 256), 256, 0, stream,
                CudaKernel.args().ptr(x).ptr(y).ptr(a).ptr(b).i64(total).i32(c).i64(inner).i32(nhwc ? 1 : 0));
    }
}

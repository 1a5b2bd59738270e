package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.conv.depthwise_nhwc}: depthwise convolution (group = C, one filter per
 * channel) on channels-last data with optional bias and a clamp that expresses ReLU / ReLU6. A thread computes 8
 * channels of an output pixel with 16-byte loads where the storage is 16-bit, C a multiple of 8 and the tensors 16-byte
 * aligned ({@link #vectorized}), one channel otherwise ({@code depthwise_nhwc.cu}).
 */
public final class DepthwiseConvNhwc {
    private DepthwiseConvNhwc() {}

    public record Shape(int n, int h, int w, int c, int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) {
        public long outputElements() { return (long) n * oh * ow * c; }
        public long inputElements() { return (long) n * h * w * c; }
    }

    /** The kernel's source computing {@code v} channels a thread (8 or 1). */
    public static String source(DType t, int v) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + "#define DW_V " + v + "\n" + KernelCompiler.resource("depthwise_nhwc.cu");
    }

    /** Whether a thread takes 8 channels with 16-byte loads: 16-bit storage, C a multiple of 8, 16-byte aligned tensors. */
    public static boolean vectorized(DType t, Shape s, DeviceBuffer x, DeviceBuffer packedW, DeviceBuffer y) {
        return t.bytes() == 2 && s.c() % 8 == 0 && x.address() % 16 == 0 && packedW.address() % 16 == 0 && y.address() % 16 == 0;
    }

    /** The IR's depthwise weight [C, 1, KH, KW] reordered to the kernel's [KH][KW][C]. */
    public static Tensor packWeights(Tensor w) {
        int[] d = w.shape().dims();
        if (d.length != 4 || d[1] != 1) throw new IllegalArgumentException("depthwise weights must be [C, 1, KH, KW], got " + w.shape());
        int c = d[0], kh = d[2], kw = d[3];
        float[] src = w.floats(), dst = new float[src.length];
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++) dst[(i * kw + j) * c + ch] = src[(ch * kh + i) * kw + j];
        return Tensor.ofFloats(w.dtype(), org.tessel.api.Shape.of(kh, kw, c), dst);
    }

    /** y = clamp(depthwise(x, w) + bias, lo, hi); bias may be null. */
    public static void run(KernelCompiler kc, DType t, Shape s, DeviceBuffer x, DeviceBuffer packedW, DeviceBuffer bias, DeviceBuffer y,
                           float lo, float hi, CudaStream stream) {
        CudaTypes.require(t, "tessel.conv.depthwise_nhwc");
        Softmax.check(x, t, s.inputElements(), "input");
        Softmax.check(y, t, s.outputElements(), "output");
        Softmax.check(packedW, t, (long) s.kh() * s.kw() * s.c(), "weights");
        if (bias != null) Softmax.check(bias, t, s.c(), "bias");
        int v = vectorized(t, s, x, packedW, y) ? 8 : 1;
        long threads = s.outputElements() / v;
        if (threads > Integer.MAX_VALUE)
            throw new IllegalArgumentException("tessel.conv.depthwise_nhwc: an output of " + s.outputElements() + " elements exceeds the kernel's 2^31 - 1 threads of " + v + " channels");
        CudaKernel k = kc.kernel("tessel_depthwise_nhwc_v" + v + "_" + t.text() + ".cu", () -> source(t, v), "tessel_depthwise_nhwc");
        k.launch(Launch.gridFor(threads, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(packedW).ptr(bias == null ? 0 : bias.address()).ptr(y)
                .i32(s.n()).i32(s.h()).i32(s.w()).i32(s.c()).i32(s.oh()).i32(s.ow()).i32(s.kh()).i32(s.kw())
                .i32(s.sh()).i32(s.sw()).i32(s.ph()).i32(s.pw()).i32(s.dh()).i32(s.dw()).f32(lo).f32(hi));
    }
}

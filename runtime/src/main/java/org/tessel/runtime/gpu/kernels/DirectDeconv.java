package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.deconv.direct}: an NCHW ConvTranspose with up to three spatial axes as a gather kernel
 * ({@code deconv.cu}), one output element per thread of a grid-stride loop, f32 math in the storage type.
 */
public final class DirectDeconv {
    private DirectDeconv() {}

    /**
     * One launch: batch {@code n}, input channels {@code c}, output channels {@code m}, {@code group}, and the window
     * rows as {@code ConvTransposeOp.window3d} gives them (kernel, strides, dilations, begin pads, input, output).
     */
    public record Spec(int n, int c, int m, int group, int[] kernel, int[] strides, int[] dilations, int[] padBegin, int[] in, int[] out) {
        public long outputElements() { return (long) n * m * out[0] * out[1] * out[2]; }
        public long inputElements() { return (long) n * c * in[0] * in[1] * in[2]; }
        public long weightElements() { return (long) c * (m / group) * kernel[0] * kernel[1] * kernel[2]; }
    }

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("deconv.cu");
    }

    /** y = ConvTranspose(x, w) (+ b when {@code b} is not null) per {@code s}, in storage type {@code t}. */
    public static void run(KernelCompiler kc, DType t, Spec s, DeviceBuffer x, DeviceBuffer w, DeviceBuffer b, DeviceBuffer y, CudaStream stream) {
        CudaTypes.require(t, "tessel_deconv");
        Softmax.check(x, t, s.inputElements(), "deconv input");
        Softmax.check(w, t, s.weightElements(), "deconv weights");
        Softmax.check(y, t, s.outputElements(), "deconv output");
        if (b != null) Softmax.check(b, t, s.m(), "deconv bias");
        long total = s.outputElements();
        if (total == 0) return;
        CudaKernel.Args a = CudaKernel.args().ptr(x).ptr(w).ptr(b == null ? y : b).ptr(y).i64(total).i32(s.c()).i32(s.m()).i32(s.group());
        for (int[] row : new int[][] {s.in(), s.out(), s.kernel(), s.strides(), s.dilations(), s.padBegin()})
            for (int v : row) a.i32(v);
        a.i32(b == null ? 0 : 1);
        kc.kernel("tessel_deconv_" + t.text() + ".cu", () -> source(t), "tessel_deconv").launch(Launch.gridFor(total, 256), 256, 0, stream, a);
    }
}

package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.eltwise.clip}: y = clamp(x, lo, hi) over {@code n} elements, in place
 * allowed. The GPU engine runs it after a cuDNN convolution for Clip (ReLU6) activations, which
 * cudnnConvolutionBiasActivationForward cannot apply (it takes ReLU or identity only).
 */
public final class Clamp {
    private Clamp() {}

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("clamp.cu");
    }

    public static void run(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, long n, float lo, float hi, CudaStream stream) {
        CudaTypes.require(t, "tessel.eltwise.clip");
        Softmax.check(x, t, n, "input");
        Softmax.check(y, t, n, "output");
        CudaKernel k = kc.kernel("tessel_clamp_" + t.text() + ".cu", () -> source(t), "tessel_clamp");
        k.launch(Launch.gridFor(n, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).i64(n).f32(lo).f32(hi));
    }
}

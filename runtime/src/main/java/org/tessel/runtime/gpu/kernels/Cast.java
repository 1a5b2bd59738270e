package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/** Tactic {@code tessel.cast}: converts between f32, f16 and bf16, rounding to nearest even. */
public final class Cast {
    private Cast() {}

    public static String source(DType from, DType to) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("S", from) + CudaTypes.typedefs("D", to) + KernelCompiler.resource("cast.cu");
    }

    public static void run(KernelCompiler kc, DType from, DType to, DeviceBuffer x, DeviceBuffer y, long elements, CudaStream stream) {
        CudaTypes.require(from, "tessel.cast input");
        CudaTypes.require(to, "tessel.cast output");
        Softmax.check(x, from, elements, "input");
        Softmax.check(y, to, elements, "output");
        if (elements == 0) return;
        CudaKernel k = kc.kernel("tessel_cast_" + from.text() + "_" + to.text() + ".cu", () -> source(from, to), "tessel_cast");
        k.launch(Launch.gridFor(elements, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).i64(elements));
    }
}

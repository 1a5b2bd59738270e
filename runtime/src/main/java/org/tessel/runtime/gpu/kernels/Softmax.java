package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/** Tactic {@code tessel.softmax}: softmax over the last axis of a [rows, len] tensor (f32, f16 or bf16). */
public final class Softmax {
    private Softmax() {}

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("softmax.cu");
    }

    public static void run(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, int rows, int len, CudaStream stream) {
        CudaTypes.require(t, "tessel.softmax");
        if (rows <= 0 || len <= 0) throw new IllegalArgumentException("tessel.softmax: rows and len must be positive, got " + rows + " x " + len);
        check(x, t, (long) rows * len, "input");
        check(y, t, (long) rows * len, "output");
        CudaKernel k = kc.kernel("tessel_softmax_" + t.text() + ".cu", () -> source(t), "tessel_softmax");
        k.launch(rows, Launch.rowBlock(len), 0, stream, CudaKernel.args().ptr(x).ptr(y).i32(rows).i32(len));
    }

    static void check(DeviceBuffer b, DType t, long elements, String what) {
        if (b.bytes() < elements * t.bytes())
            throw new IllegalArgumentException(what + " buffer holds " + b.bytes() + " bytes, needs " + elements + " " + t.text() + " elements");
    }
}

package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.dequantize_i8}: int8 codes to f32, f16 or bf16, code * scale (one f32
 * multiply, as {@link org.tessel.runtime.engine.PrecisionEmulation#fakeQuantize} computes it, then
 * rounded to nearest even to the storage type).
 */
public final class Dequantize {
    private Dequantize() {}

    public static String source(DType to) {
        return KernelCompiler.prelude() + KernelCompiler.resource("int8.cuh") + CudaTypes.typedefs("S", DType.F32)
                + CudaTypes.typedefs("D", to) + KernelCompiler.resource("quantize.cu");
    }

    /** y[i] = x[i] * scale in {@code to}, for {@code elements} int8 codes. */
    public static void run(KernelCompiler kc, DType to, DeviceBuffer x, DeviceBuffer y, float scale, long elements, CudaStream stream) {
        CudaTypes.require(to, "tessel.dequantize_i8 output");
        Quantize.checkScale(scale, "tessel.dequantize_i8");
        if (elements < 0) throw new IllegalArgumentException("tessel.dequantize_i8: element count must not be negative, got " + elements);
        Softmax.check(x, DType.I8, elements, "tessel.dequantize_i8 input");
        Softmax.check(y, to, elements, "tessel.dequantize_i8 output");
        if (elements == 0) return;
        CudaKernel k = kc.kernel("tessel_dequantize_" + to.text() + ".cu", () -> source(to), "tessel_dequantize_i8");
        k.launch(Launch.gridFor(elements, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).f32(scale).i64(elements));
    }
}

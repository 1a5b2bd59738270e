package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.quantize_i8}: f32, f16 or bf16 activations to int8 codes at one per-tensor
 * scale, exactly as the CPU backend's {@link org.tessel.runtime.engine.PrecisionEmulation#quantize}:
 * x / scale (an f32 division) rounded to nearest even, clamped to [-127, 127], NaN to 0.
 */
public final class Quantize {
    private Quantize() {}

    public static String source(DType from) {
        return KernelCompiler.prelude() + KernelCompiler.resource("int8.cuh") + CudaTypes.typedefs("S", from)
                + CudaTypes.typedefs("D", DType.F32) + KernelCompiler.resource("quantize.cu");
    }

    /** y[i] = clamp(rint(x[i] / scale), -127, 127) as int8, for {@code elements} elements. */
    public static void run(KernelCompiler kc, DType from, DeviceBuffer x, DeviceBuffer y, float scale, long elements, CudaStream stream) {
        CudaTypes.require(from, "tessel.quantize_i8 input");
        checkScale(scale, "tessel.quantize_i8");
        if (elements < 0) throw new IllegalArgumentException("tessel.quantize_i8: element count must not be negative, got " + elements);
        Softmax.check(x, from, elements, "tessel.quantize_i8 input");
        Softmax.check(y, DType.I8, elements, "tessel.quantize_i8 output");
        if (elements == 0) return;
        CudaKernel k = kc.kernel("tessel_quantize_" + from.text() + ".cu", () -> source(from), "tessel_quantize_i8");
        k.launch(Launch.gridFor(elements, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).f32(scale).i64(elements));
    }

    /** Refuses a scale that is not a positive finite float (the codes would be meaningless). */
    static void checkScale(float scale, String where) {
        if (!(scale > 0) || !Float.isFinite(scale))
            throw new IllegalArgumentException(where + ": the quantization scale must be a positive finite float, got " + scale);
    }
}

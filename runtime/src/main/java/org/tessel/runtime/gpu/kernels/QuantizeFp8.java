package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Kernels {@code tessel_quantize_fp8} and {@code tessel_dequantize_fp8}: f32, f16 or bf16 activations to
 * FP8 E4M3 codes at one per-tensor scale and back, exactly as the CPU backend's
 * {@link org.tessel.runtime.engine.PrecisionEmulation#fakeQuantizeFp8}: e4m3(x / scale) with x / scale an
 * f32 division, rounded to nearest even, saturating at +-448, NaN kept ({@code fp8.cuh} writes the
 * conversion in integer arithmetic, so it needs no cuda_fp8.h). The FP8 GEMM reads these codes with
 * the scale as cuBLASLt's A or B scale ({@link org.tessel.runtime.cuda.ffm.CublasLt}); they are
 * compiled and checked on the host (see Fp8KernelsTest), not yet run on a GPU.
 */
public final class QuantizeFp8 {
    private QuantizeFp8() {}

    /** The kernels' source with {@code S} (quantize's input) and {@code D} (dequantize's output) of type {@code t}. */
    public static String source(DType t) {
        return KernelCompiler.prelude() + KernelCompiler.resource("fp8.cuh") + CudaTypes.typedefs("S", t)
                + CudaTypes.typedefs("D", t) + KernelCompiler.resource("quantize_fp8.cu");
    }

    /** y[i] = e4m3(x[i] / scale) as one byte per element, for {@code elements} elements. */
    public static void quantize(KernelCompiler kc, DType from, DeviceBuffer x, DeviceBuffer codes, float scale, long elements, CudaStream stream) {
        CudaTypes.require(from, "tessel.quantize_fp8 input");
        Quantize.checkScale(scale, "tessel.quantize_fp8");
        if (elements < 0) throw new IllegalArgumentException("tessel.quantize_fp8: element count must not be negative, got " + elements);
        Softmax.check(x, from, elements, "tessel.quantize_fp8 input");
        Softmax.check(codes, DType.F8E4M3, elements, "tessel.quantize_fp8 output");
        if (elements == 0) return;
        CudaKernel k = kc.kernel("tessel_fp8_" + from.text() + ".cu", () -> source(from), "tessel_quantize_fp8");
        k.launch(Launch.gridFor(elements, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(codes).f32(scale).i64(elements));
    }

    /** y[i] = e4m3 value of codes[i] times scale, stored as {@code to}, for {@code elements} elements. */
    public static void dequantize(KernelCompiler kc, DType to, DeviceBuffer codes, DeviceBuffer y, float scale, long elements, CudaStream stream) {
        CudaTypes.require(to, "tessel.dequantize_fp8 output");
        Quantize.checkScale(scale, "tessel.dequantize_fp8");
        if (elements < 0) throw new IllegalArgumentException("tessel.dequantize_fp8: element count must not be negative, got " + elements);
        Softmax.check(codes, DType.F8E4M3, elements, "tessel.dequantize_fp8 input");
        Softmax.check(y, to, elements, "tessel.dequantize_fp8 output");
        if (elements == 0) return;
        CudaKernel k = kc.kernel("tessel_fp8_" + to.text() + ".cu", () -> source(to), "tessel_dequantize_fp8");
        k.launch(Launch.gridFor(elements, 256), 256, 0, stream, CudaKernel.args().ptr(codes).ptr(y).f32(scale).i64(elements));
    }
}

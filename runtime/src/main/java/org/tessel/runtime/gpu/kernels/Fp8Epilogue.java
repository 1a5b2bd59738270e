package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.api.Float8E4M3;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;

/**
 * Kernel {@code tessel.fp8_epilogue}: the end of an FP8 GEMM ({@link Fp8Gemm} writes its f32 result, the operands' scales
 * already applied). Per element of [rows, channels]: v = acc (+ bias[c]) (+ e4m3 residual times its scale), then the
 * activation, written as E4M3 codes at the output's per-tensor scale ({@code fp8_epilogue.cu}). {@link #reference} is the
 * same computation on the host.
 */
public final class Fp8Epilogue {
    private Fp8Epilogue() {}

    /** The activation after the bias and residual: what a gemm_bias_act body ends in. */
    public enum Activation {
        NONE, RELU, GELU_ERF, GELU_TANH, TANH;

        float apply(float v) {
            return switch (this) {
                case NONE -> v;
                case RELU -> v > 0f ? v : 0f;
                case GELU_ERF -> (float) (0.5 * v * org.tessel.ir.ops.SpecialFunctions.erfc(-v * 0.70710678118654752));
                case GELU_TANH -> (float) (0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))));
                case TANH -> (float) Math.tanh(v);
            };
        }
    }

    /** One epilogue: the f32 bias (null: none), the residual's e4m3 codes and scale (null: none), the activation and y's scale. */
    public record Params(DeviceBuffer bias, DeviceBuffer residual, float residualScale, Activation activation, float outScale) {
        public Params {
            if (activation == null) throw new IllegalArgumentException("tessel.fp8_epilogue needs an activation (NONE for none)");
            Quantize.checkScale(outScale, "tessel.fp8_epilogue output");
            if (residual != null) Quantize.checkScale(residualScale, "tessel.fp8_epilogue residual");
        }
    }

    static String source(boolean bias, boolean residual, Activation act) { return source(bias, residual, act, false, DType.F32); }

    /**
     * As above; {@code vec4}: a thread takes 4 consecutive elements (channels a multiple of 4, acc aligned for 4 of its
     * elements, a 16-byte aligned bias, 4-byte aligned codes); {@code accType} f32 or bf16.
     */
    static String source(boolean bias, boolean residual, Activation act, boolean vec4, DType accType) {
        return KernelCompiler.prelude() + KernelCompiler.resource("fp8.cuh") + "#define TESSEL_BIAS " + (bias ? 1 : 0) + "\n#define TESSEL_RESIDUAL "
                + (residual ? 1 : 0) + "\n#define TESSEL_ACT " + act.ordinal() + "\n#define TESSEL_VEC4 " + (vec4 ? 1 : 0) + "\n#define TESSEL_ACC_BF16 "
                + (accType == DType.BF16 ? 1 : 0) + "\n" + KernelCompiler.resource("fp8_epilogue.cu");
    }

    /** True when the 4-wide form runs the epilogue: channels a multiple of 4, under 2^31 groups of 4, the buffers aligned for its loads and stores. */
    static boolean vec4(long rows, int channels, DeviceBuffer acc, DType accType, Params p, DeviceBuffer y) {
        return channels % 4 == 0 && rows * (channels / 4) < (1L << 31) && acc.address() % (4L * accType.bytes()) == 0 && y.address() % 4 == 0
                && (p.bias() == null || p.bias().address() % 16 == 0) && (p.residual() == null || p.residual().address() % 4 == 0);
    }

    /** Runs the epilogue over {@code rows} x {@code channels} f32 results {@code acc} into the E4M3 codes {@code y}. */
    public static void run(KernelCompiler kc, DeviceBuffer acc, long rows, int channels, Params p, DeviceBuffer y, CudaStream stream) {
        run(kc, acc, DType.F32, rows, channels, p, y, stream);
    }

    /** As above, the GEMM's results {@code acc} in {@code accType}: f32, or bf16 (a 16-bit D, widened exactly). */
    public static void run(KernelCompiler kc, DeviceBuffer acc, DType accType, long rows, int channels, Params p, DeviceBuffer y, CudaStream stream) {
        if (rows <= 0 || channels <= 0) throw new IllegalArgumentException("tessel.fp8_epilogue: rows and channels must be positive, got " + rows + " x " + channels);
        if (accType != DType.F32 && accType != DType.BF16) throw new IllegalArgumentException("tessel.fp8_epilogue reads f32 or bf16 results, not " + accType.text());
        long n = rows * channels;
        Softmax.check(acc, accType, n, "tessel.fp8_epilogue accumulator (" + accType.text() + ")");
        if (p.bias() != null) Softmax.check(p.bias(), DType.F32, channels, "tessel.fp8_epilogue bias (f32)");
        if (p.residual() != null) Softmax.check(p.residual(), DType.F8E4M3, n, "tessel.fp8_epilogue residual (e4m3)");
        Softmax.check(y, DType.F8E4M3, n, "tessel.fp8_epilogue output (e4m3)");
        boolean bias = p.bias() != null, residual = p.residual() != null;
        boolean v4 = vec4(rows, channels, acc, accType, p, y);
        String name = "tessel_fp8_epilogue" + (bias ? "_bias" : "") + (residual ? "_residual" : "") + "_" + p.activation().name().toLowerCase(java.util.Locale.ROOT) + (v4 ? "_v4" : "")
                + (accType == DType.BF16 ? "_bf16" : "") + ".cu";
        CudaKernel k = kc.kernel(name, () -> source(bias, residual, p.activation(), v4, accType), "tessel_fp8_epilogue");
        k.launch(Launch.gridFor(v4 ? n / 4 : n, 256), 256, 0, stream, CudaKernel.args().ptr(acc).ptr(bias ? p.bias().address() : 0L)
                .ptr(residual ? p.residual().address() : 0L).f32(p.residualScale()).ptr(y).f32(p.outScale()).i64(rows).i32(channels));
    }

    /** The E4M3 code the epilogue writes for one element, computed on the host as the kernel does. */
    public static int reference(float acc, Float bias, Integer residualCode, float residualScale, Activation act, float outScale) {
        float v = acc;
        if (bias != null) v = v + bias;
        if (residualCode != null) v = v + Float8E4M3.toFloat(residualCode) * residualScale;
        return Float8E4M3.toBits(act.apply(v) / outScale, true);
    }
}

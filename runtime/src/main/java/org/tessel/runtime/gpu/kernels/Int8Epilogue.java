package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.PrecisionEmulation;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.int8_epilogue}: the end of an INT8 convolution or GEMM. Its accumulators
 * [rows, channels] (channels innermost: a row-major GEMM's [M, N], an NHWC convolution's
 * [N*P*Q, K]) become v = acc * scale[c] (+ bias[c]) (then ReLU), written as int8 requantized at the
 * output's per-tensor scale (rint(v / outScale) clamped to [-127, 127], as
 * {@link PrecisionEmulation#quantize}) or as f32, f16 or bf16. scale[c] is s_activation *
 * s_weight[c] ({@link Int8Weights#outputScales}); the bias is f32. The arithmetic is one f32 multiply
 * and one f32 add, uncontracted, so {@link #reference} gives the same value on the host.
 */
public final class Int8Epilogue {
    private Int8Epilogue() {}

    /** The accumulators' element type: int32 (cuBLASLt, Tessel's dp4a conv) or f32 (cuDNN's INT8_EXT_CONFIG). */
    public enum Accumulator {
        INT32("int", DType.I32), FLOAT("float", DType.F32);

        final String c;
        final DType dtype;
        Accumulator(String c, DType d) { this.c = c; this.dtype = d; }
        public DType dtype() { return dtype; }
    }

    /**
     * What the epilogue does with one accumulator tensor: per-channel scales and optional bias
     * (device f32 arrays of {@code channels} elements; bias may be null), ReLU or not, and the
     * output type (I8 with {@code outScale}, or F32 / F16 / BF16, where outScale is ignored).
     */
    public record Params(DeviceBuffer channelScales, DeviceBuffer bias, DeviceBuffer residual, float residualScale, float lo, float hi, DType out, float outScale) {
        public Params {
            if (channelScales == null) throw new IllegalArgumentException("tessel.int8_epilogue needs a device buffer of per-channel scales");
            checkOut(out);
            if (out == DType.I8) Quantize.checkScale(outScale, "tessel.int8_epilogue int8 output");
            if (residual != null) Quantize.checkScale(residualScale, "tessel.int8_epilogue residual");
            if (!(lo <= hi)) throw new IllegalArgumentException("tessel.int8_epilogue clamp [" + lo + ", " + hi + "] is empty");
        }

        /** Bias and ReLU or nothing, no residual. */
        public Params(DeviceBuffer channelScales, DeviceBuffer bias, boolean relu, DType out, float outScale) {
            this(channelScales, bias, null, 1f, relu ? 0f : Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, out, outScale);
        }

        /** True when the clamp is ReLU's [0, inf). */
        public boolean relu() { return lo == 0f && hi == Float.POSITIVE_INFINITY; }

        boolean clamps() { return lo != Float.NEGATIVE_INFINITY || hi != Float.POSITIVE_INFINITY; }

        /** Int8 output requantized at {@code outScale}. */
        public static Params int8(DeviceBuffer channelScales, DeviceBuffer bias, boolean relu, float outScale) {
            return new Params(channelScales, bias, relu, DType.I8, outScale);
        }

        /** Float output (f32, f16 or bf16). */
        public static Params floating(DeviceBuffer channelScales, DeviceBuffer bias, boolean relu, DType out) {
            return new Params(channelScales, bias, relu, out, 1f);
        }
    }

    static void checkOut(DType out) {
        if (out != DType.I8 && !CudaTypes.supported(out))
            throw new IllegalArgumentException("tessel.int8_epilogue writes i8, f32, f16 or bf16, got " + (out == null ? "null" : out.text()));
    }

    public static String source(Accumulator acc, DType out, boolean bias, boolean relu) { return source(acc, out, bias, false, relu); }

    /** The kernel source for one accumulator and output type, with or without bias, residual and clamp. */
    public static String source(Accumulator acc, DType out, boolean bias, boolean residual, boolean clamp) {
        checkOut(out);
        StringBuilder sb = new StringBuilder(KernelCompiler.prelude()).append(KernelCompiler.resource("int8.cuh"));
        sb.append("typedef ").append(acc.c).append(" ACC;\n");
        if (out == DType.I8) {
            sb.append("typedef signed char OUT;\n#define ST_OUT(p, i, v) ((p)[i] = tessel_q8((v), out_scale))\n");
        } else {
            sb.append(CudaTypes.typedefs("D", out)).append("typedef D OUT;\n#define ST_OUT(p, i, v) ST_D(p, i, v)\n");
        }
        sb.append("#define TESSEL_BIAS ").append(bias ? 1 : 0).append('\n');
        sb.append("#define TESSEL_RESIDUAL ").append(residual ? 1 : 0).append('\n');
        sb.append("#define TESSEL_CLAMP ").append(clamp ? 1 : 0).append('\n');
        return sb.append(KernelCompiler.resource("int8_epilogue.cu")).toString();
    }

    /** Runs the epilogue over {@code rows} x {@code channels} accumulators into {@code y}. */
    public static void run(KernelCompiler kc, Accumulator acc, DeviceBuffer accumulators, long rows, int channels, Params p, DeviceBuffer y, CudaStream stream) {
        if (rows <= 0 || channels <= 0) throw new IllegalArgumentException("tessel.int8_epilogue: rows and channels must be positive, got " + rows + " x " + channels);
        long n = rows * channels;
        Softmax.check(accumulators, acc.dtype, n, "tessel.int8_epilogue accumulator");
        Softmax.check(p.channelScales(), DType.F32, channels, "tessel.int8_epilogue channel scales");
        if (p.bias() != null) Softmax.check(p.bias(), DType.F32, channels, "tessel.int8_epilogue bias (f32)");
        if (p.residual() != null) Softmax.check(p.residual(), DType.I8, n, "tessel.int8_epilogue residual (int8)");
        Softmax.check(y, p.out(), n, "tessel.int8_epilogue output");
        boolean bias = p.bias() != null;
        boolean residual = p.residual() != null, clamp = p.clamps();
        String name = "tessel_int8_epilogue_" + acc.c + "_" + p.out().text() + (bias ? "_bias" : "") + (residual ? "_residual" : "") + (clamp ? "_clamp" : "") + ".cu";
        CudaKernel k = kc.kernel(name, () -> source(acc, p.out(), bias, residual, clamp), "tessel_int8_epilogue");
        k.launch(Launch.gridFor(n, 256), 256, 0, stream, CudaKernel.args().ptr(accumulators).ptr(p.channelScales())
                .ptr(bias ? p.bias().address() : 0L).ptr(residual ? p.residual().address() : 0L).f32(p.residualScale()).f32(p.lo()).f32(p.hi())
                .ptr(y).f32(p.outScale()).i64(rows).i32(channels));
    }

    /** The host value of one output before storage: acc * scale (+ bias) (ReLU), in f32 as the kernel computes it. */
    public static float reference(double acc, float scale, float bias, boolean hasBias, boolean relu) {
        float v = (float) acc * scale;
        if (hasBias) v = v + bias;
        if (relu) v = v > 0f ? v : 0f;
        return v;
    }

    /** The int8 code the epilogue writes for value {@code v} at {@code outScale}. */
    public static int referenceCode(float v, float outScale) { return PrecisionEmulation.quantize(v, outScale); }
}

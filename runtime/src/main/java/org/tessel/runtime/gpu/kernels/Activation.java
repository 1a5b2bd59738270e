package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * y = act(x) over {@code n} elements, in place allowed: the activation after a convolution whose fused epilogue cannot
 * apply it (cudnnConvolutionBiasActivationForward takes ReLU or identity only; Tessel's depthwise kernel clamps). Clip's
 * clamp, Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu and GELU (erf or tanh), in f32 math; the GPU engine runs it as
 * part of the convolution's layer (the tactic's {@code /clamp}, {@code /sigmoid}, ... variant).
 */
public final class Activation {
    private Activation() {}

    /** The kernel's activations, in the order of its {@code op} argument. */
    public enum Op {
        CLAMP("clamp"), SIGMOID("sigmoid"), TANH("tanh"), HARD_SIGMOID("hardsigmoid"), HARD_SWISH("hardswish"), LEAKY_RELU("leakyrelu"), GELU_ERF("gelu"), GELU_TANH("gelu_tanh");

        /** The variant part naming it in a tactic id (e.g. {@code cudnn.conv.fused_bias_act/implicit_precomp_gemm/sigmoid}). */
        public final String variant;

        Op(String variant) { this.variant = variant; }

        /** The op a variant part names, or null. */
        public static Op ofVariant(String part) {
            for (Op o : values()) if (o.variant.equals(part)) return o;
            return null;
        }
    }

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("activation.cu");
    }

    /** {@code lo, hi}: the clamp's bounds; {@code a, b}: HardSigmoid's alpha and beta, LeakyRelu's alpha. */
    public static void run(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, long n, Op op, float lo, float hi, float a, float b, CudaStream stream) {
        CudaTypes.require(t, "the activation after a convolution");
        Softmax.check(x, t, n, "input");
        Softmax.check(y, t, n, "output");
        CudaKernel k = kc.kernel("tessel_act_" + t.text() + ".cu", () -> source(t), "tessel_act");
        k.launch(Launch.gridFor(n, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).i64(n).i32(op.ordinal()).f32(lo).f32(hi).f32(a).f32(b));
    }
}

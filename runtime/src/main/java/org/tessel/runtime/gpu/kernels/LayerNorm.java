package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.layernorm}: layer normalization over the last {@code len} elements of each
 * of {@code rows} rows, with scale {@code gamma} and optional shift {@code beta} of {@code len}
 * elements.
 */
public final class LayerNorm {
    private LayerNorm() {}

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("layernorm.cu");
    }

    public static void run(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer gamma, DeviceBuffer beta, DeviceBuffer y,
                           int rows, int len, float epsilon, CudaStream stream) {
        CudaTypes.require(t, "tessel.layernorm");
        if (rows <= 0 || len <= 0) throw new IllegalArgumentException("tessel.layernorm: rows and len must be positive, got " + rows + " x " + len);
        Softmax.check(x, t, (long) rows * len, "input");
        Softmax.check(y, t, (long) rows * len, "output");
        Softmax.check(gamma, t, len, "scale");
        if (beta != null) Softmax.check(beta, t, len, "bias");
        CudaKernel k = kc.kernel("tessel_layernorm_" + t.text() + ".cu", () -> source(t), "tessel_layernorm");
        k.launch(rows, Launch.rowBlock(len), 0, stream, CudaKernel.args().ptr(x).ptr(gamma).ptr(beta == null ? 0 : beta.address())
                .ptr(y).i32(rows).i32(len).f32(epsilon));
    }
}

package org.tessel.runtime.gpu.engine;

import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.Fp8Epilogue;
import org.tessel.runtime.gpu.kernels.Fp8Gemm;

/**
 * GEMMs, and 1x1 NHWC convolutions (a GEMM over pixels), a plan runs at FP8 E4M3 (sm_89 and later), as the CPU backend emulates them ({@code PrecisionEmulation}): the
 * node reads E4M3 activations (its casts quantized them at their tensors' scales from the plan's quantization table),
 * its weights are E4M3 at one per-tensor scale (amax/448, or a float8 Q/DQ model's own; cuBLASLt's FP8 matmul takes one
 * scale per operand, so a model's per-channel FP8 weight scales are refused naming the node), cuBLASLt
 * multiplies with f32 accumulation and both scales applied, and Tessel's epilogue ({@link Fp8Epilogue}) adds the f32
 * bias and the E4M3 residual at its scale, applies the body's activation (ReLU, GELU, Tanh) and writes the output as
 * E4M3 codes at its scale. The layer reports the planned tactic with variant {@code fp8}.
 */
final class Fp8Layers {
    private Fp8Layers() {}

    static final String VARIANT = "fp8";

    /** y[M, N] = act(x[M, K] · W (+ bias) (+ residual)) at FP8; {@code w} a constant [K, N], or [N, K] with {@code transB}. */
    static Layer gemm(LayerContext c, Node n, String id, Value x, Value w, boolean transB, Value biasValue, Value residualValue, Fp8Epilogue.Activation act) {
        if (w.constantValue() == null || w.type().rank() != 2) throw GpuEngineException.unsupported(n, "FP8 weights %" + w.name() + " must be a 2-D constant");
        return layer(c, n, id, x, w, outputChannelsFirst(w.constantValue(), transB), biasValue, residualValue, act);
    }

    /**
     * A 1x1, stride-1, unpadded, one-group NHWC convolution at FP8 (ConvLayers.fp8WhyNot says which): x's N*H*W pixels are
     * the GEMM's rows and its channels K, the filters [Cout, Cin, 1, 1] are [N, K] as stored, and the output's pixels are
     * written channels-last, as the NHWC tensor is laid out.
     */
    static Layer conv1x1(LayerContext c, Node n, String id, Value x, Value w, Value biasValue, Value residualValue, Fp8Epilogue.Activation act) {
        Tensor f = w.constantValue();
        if (f == null) throw GpuEngineException.unsupported(n, "FP8 filters %" + w.name() + " must be a constant");
        Tensor nk = Tensor.ofFloats(DType.F32, org.tessel.api.Shape.of(f.shape().dim(0), f.shape().dim(1)), f.floats());
        return layer(c, n, id, x, w, nk, biasValue, residualValue, act);
    }

    /** The FP8 layer of weights {@code nk} ([N, K] f32, output channels first) keyed in the engine by {@code w}. */
    private static Layer layer(LayerContext c, Node n, String id, Value x, Value w, Tensor nk, Value biasValue, Value residualValue, Fp8Epilogue.Activation act) {
        Value y = n.output();
        int kk = nk.shape().dim(1), nn = nk.shape().dim(0);
        long m = x.type().numElements() / kk;
        if (m > Integer.MAX_VALUE) throw GpuEngineException.unsupported(n, "M = " + m + " rows is too many");
        Fp8Gemm.Spec spec;
        try {
            spec = new Fp8Gemm.Spec((int) m, nn, kk, DType.F32, false);
        } catch (IllegalArgumentException e) {
            throw GpuEngineException.unsupported(n, e.getMessage());
        }
        float sx = c.scale(x), sy = c.scale(y);
        // the plan's scale for the weight (a float8 Q/DQ model's own), as the CPU engine quantizes it; cuBLASLt takes one per operand
        float[] given = c.weightScales(w, nn);
        if (given != null)
            for (float s : given)
                if (Float.floatToIntBits(s) != Float.floatToIntBits(given[0]))
                    throw GpuEngineException.unsupported(n, "the model gives FP8 weight %" + w.name() + " a scale per output channel; cuBLASLt's FP8 matmul takes one scale per operand");
        Fp8Gemm.Weights q = Fp8Gemm.weights(nk, given == null ? Float.NaN : given[0]);
        DeviceBuffer wb = c.shared(w, "fp8:nk", () -> DeviceBuffer.ofBytes(q.codes()));
        DeviceBuffer ws8 = c.shared(w, "fp8:scale", () -> DeviceBuffer.ofFloats(new float[] {q.scale()}));
        DeviceBuffer xs = c.keep(DeviceBuffer.ofFloats(new float[] {sx}));
        DeviceBuffer bias = biasValue == null ? null : c.shared(biasValue, "f32", () -> DeviceBuffer.ofFloats(biasValue.constantValue().floats()));
        DeviceBuffer residual = residualValue == null ? null : c.activation(residualValue);
        float sr = residualValue == null ? 1f : c.scale(residualValue);
        Fp8Epilogue.Params ep = new Fp8Epilogue.Params(bias, residual, sr, act, sy);
        Fp8Gemm g = Fp8Gemm.plan(c.cublasLt(), spec, 0L, 1);
        if (g.algos().isEmpty()) { g.close(); throw GpuEngineException.unsupported(n, "cuBLASLt has no FP8 algorithm for " + m + "x" + nn + "x" + kk + " on this GPU"); }
        DeviceBuffer xb = c.activation(x), yb = c.activation(y);
        DeviceBuffer acc = c.keep(DeviceBuffer.allocate(m * nn * 4L));
        java.util.function.Supplier<DeviceBuffer> ws = c.workspace();
        String tactic = GpuTactics.variant(id, VARIANT);
        long rows = m;
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(n, tactic, y); }
            @Override public void enqueue(CudaStream s) {
                g.run(0, xb, xs, wb, ws8, acc, ws.get(), s);
                Fp8Epilogue.run(c.kernels(), acc, rows, nn, ep, yb, s);
            }
            @Override public void close() { g.close(); }
        };
    }

    /** The weight as f32 [N, K] (output channels first, cuBLASLt's "TN" A operand): [K, N] is transposed, [N, K] (transB) kept. */
    static Tensor outputChannelsFirst(Tensor w, boolean transB) {
        float[] v = w.floats();
        if (transB) return Tensor.ofFloats(DType.F32, w.shape(), v);
        int k = w.shape().dim(0), nn = w.shape().dim(1);
        float[] t = new float[v.length];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < nn; j++) t[j * k + i] = v[i * nn + j];
        return Tensor.ofFloats(DType.F32, org.tessel.api.Shape.of(nn, k), t);
    }
}

package org.tessel.runtime.gpu.engine;

import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.CublasLtGemm;
import org.tessel.runtime.gpu.kernels.Fp8Epilogue;
import org.tessel.runtime.gpu.kernels.Fp8Gemm;
import org.tessel.runtime.gpu.kernels.Im2col;

/**
 * GEMMs and 2-D NHWC convolutions of one group a plan runs at FP8 E4M3 (sm_89 and later), as the CPU backend emulates them
 * ({@code PrecisionEmulation}): the node reads E4M3 activations (its casts quantized them at their tensors' scales from the
 * plan's quantization table), its weights are E4M3 at one per-tensor scale (amax/448, or a float8 Q/DQ model's own;
 * cuBLASLt's FP8 matmul takes one scale per operand, so a model's per-channel FP8 weight scales are refused naming the
 * node), cuBLASLt multiplies with f32 accumulation and both scales applied, and Tessel's epilogue ({@link Fp8Epilogue})
 * adds the f32 bias and the E4M3 residual at its scale, applies the body's activation (ReLU, GELU, Tanh) and writes the
 * output as E4M3 codes at its scale. A convolution is that GEMM over pixels: directly on x when it is 1x1, stride 1,
 * unpadded, else on an im2col matrix of x's codes ({@link Im2col}; any kernel size, strides, pads, dilations). The
 * layer reports the planned tactic with variant {@code fp8}, or {@code fp8/im2col} for the latter.
 */
final class Fp8Layers {
    private Fp8Layers() {}

    static final String VARIANT = "fp8";

    /** The variant part after {@code fp8} of a convolution that runs on an im2col matrix of its input. */
    static final String IM2COL = "im2col";

    /** y[M, N] = act(x[M, K] · W (+ bias) (+ residual)) at FP8; {@code w} a constant [K, N], or [N, K] with {@code transB}. */
    /**
     * The type cuBLASLt writes an FP8 GEMM's results in before Tessel's epilogue: bf16, half the bytes of f32 through
     * memory and the form cuBLASLt's fast Hopper FP8 kernels write (on an H100, BERT-base b32's FFN1 with f32 results took
     * 85.6 us against FP16's 56.3; 2026-12-06). bf16 keeps f32's range; its rounding (2^-9) is far below the e4m3 output's (2^-4).
     */
    static final DType ACC = DType.BF16;

    static Layer gemm(LayerContext c, Node n, String id, Value x, Value w, boolean transB, Value biasValue, Value residualValue, Fp8Epilogue.Activation act) {
        if (w.constantValue() == null || w.type().rank() != 2) throw GpuEngineException.unsupported(n, "FP8 weights %" + w.name() + " must be a 2-D constant");
        return layer(c, n, id, x, w, outputChannelsFirst(w.constantValue(), transB), biasValue, residualValue, act, null);
    }


    /**
     * A 2-D, one-group NHWC convolution at FP8 (ConvLayers.fp8WhyNot says which). A 1x1, stride-1, unpadded one over
     * channels and pixels in multiples of 16 is a GEMM as stored: x's N*H*W pixels are the rows, its channels K, the
     * filters [Cout, Cin, 1, 1] are [N, K] as stored. Any other is {@link Im2col}'s matrix of x's codes (rows and
     * columns padded to 16) times the filters reordered to match ({@link Im2col#filters}), reported with variant
     * {@code fp8/im2col}. Either way the output's pixels are written channels-last, as the NHWC tensor is laid out.
     */
    static Layer conv(LayerContext c, Node n, String id, ConvLayers.Operands o, Fp8Epilogue.Activation act, boolean gather) {
        Tensor f = o.w().constantValue();
        if (f == null) throw GpuEngineException.unsupported(n, "FP8 filters %" + o.w().name() + " must be a constant");
        Im2col.Geometry g;
        try {
            g = ConvLayers.pixelGeometry(o, n.output());
        } catch (IllegalArgumentException e) {
            throw GpuEngineException.unsupported(n, e.getMessage());
        }
        if (!gather) {
            if (!direct(g)) throw GpuEngineException.unsupported(n, id + " at FP8 runs a GEMM over x as stored: 1x1, stride 1, unpadded, channels and pixels multiples of 16");
            Tensor nk = Tensor.ofFloats(DType.F32, org.tessel.api.Shape.of(f.shape().dim(0), f.shape().dim(1)), f.floats());
            return layer(c, n, id, o.x(), o.w(), nk, o.bias(), o.residual(), act, null);
        }
        return layer(c, n, id, o.x(), o.w(), Im2col.filters(f, g.kpad()), o.bias(), o.residual(), act, g);
    }

    /** True when the convolution is a GEMM over x as stored: 1x1, stride 1, no padding, M and K (channels) multiples of 16. */
    static boolean direct(Im2col.Geometry g) {
        return g.kh() == 1 && g.kw() == 1 && g.strideH() == 1 && g.strideW() == 1 && g.padTop() == 0 && g.padLeft() == 0 && g.oh() == g.h() && g.ow() == g.w()
                && g.c() % Im2col.ALIGN == 0 && g.m() % Im2col.ALIGN == 0;
    }

    /**
     * The FP8 layer of weights {@code nk} ([N, K] f32, output channels first) keyed in the engine by {@code w}: the GEMM
     * reads x as stored, or with {@code im2col} the matrix {@link Im2col} gathers from it first, slice by slice of whole
     * images ({@link Im2col.Slicing}: one cuBLASLt plan for a full slice's rows, another for the last slice's), the
     * results of every slice in one accumulator tensor that Tessel's epilogue then reads once.
     */
    private static Layer layer(LayerContext c, Node n, String id, Value x, Value w, Tensor nk, Value biasValue, Value residualValue, Fp8Epilogue.Activation act,
                               Im2col.Geometry im2col) {
        Value y = n.output();
        int kk = nk.shape().dim(1), nn = nk.shape().dim(0);
        long m = im2col == null ? x.type().numElements() / kk : im2col.m();
        if (m > Integer.MAX_VALUE) throw GpuEngineException.unsupported(n, "M = " + m + " rows is too many");
        Im2col.Slicing slices = im2col == null ? null : Im2col.Slicing.of(im2col, 1, (long) nn * ACC.bytes());
        int rows = slices == null ? (int) m : (int) slices.slice().m(), lastRows = slices == null ? (int) m : (int) slices.last().m();
        float sx = c.scale(x), sy = c.scale(y);
        // the plan's scale for the weight (a float8 Q/DQ model's own), as the CPU engine quantizes it; cuBLASLt takes one per operand
        float[] given = c.weightScales(w, nn);
        if (given != null)
            for (float s : given)
                if (Float.floatToIntBits(s) != Float.floatToIntBits(given[0]))
                    throw GpuEngineException.unsupported(n, "the model gives FP8 weight %" + w.name() + " a scale per output channel; cuBLASLt's FP8 matmul takes one scale per operand");
        // an im2col filter's zero columns leave its amax, so its scale is the one the CPU engine gives the filter as stored
        Fp8Gemm.Weights q = Fp8Gemm.weights(nk, given == null ? Float.NaN : given[0]);
        DeviceBuffer wb = c.shared(w, im2col == null ? "fp8:nk" : "fp8:im2col", () -> DeviceBuffer.ofBytes(q.codes()));
        DeviceBuffer ws8 = c.shared(w, "fp8:scale", () -> DeviceBuffer.ofFloats(new float[] {q.scale()}));
        DeviceBuffer xs = c.keep(DeviceBuffer.ofFloats(new float[] {sx}));
        DeviceBuffer bias = biasValue == null ? null : c.shared(biasValue, "f32", () -> DeviceBuffer.ofFloats(biasValue.constantValue().floats()));
        DeviceBuffer residual = residualValue == null ? null : c.activation(residualValue);
        float sr = residualValue == null ? 1f : c.scale(residualValue);
        Fp8Epilogue.Params ep = new Fp8Epilogue.Params(bias, residual, sr, act, sy);
        Fp8Gemm g = plan(c, n, rows, nn, kk);
        Fp8Gemm gl = lastRows == rows ? g : plan(c, n, lastRows, nn, kk);
        DeviceBuffer xb = c.activation(x), yb = c.activation(y);
        DeviceBuffer acc = c.keep(DeviceBuffer.allocate(m * nn * (long) ACC.bytes()));
        // the matrix lives in the stream's workspace, ahead of cuBLASLt's: it is needed only while this layer runs, and
        // the workspace is sized to the largest any layer of the stream declares (needWorkspace), so layers share it
        if (slices != null) c.needWorkspace(slices.workspaceBytes(CublasLtGemm.WORKSPACE_BYTES));
        java.util.function.Supplier<DeviceBuffer> ws = c.workspace();
        String tactic = im2col == null ? GpuTactics.variant(id, VARIANT) : GpuTactics.variant(id, VARIANT, IM2COL);
        long rowBytes = (long) nn * ACC.bytes();
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(n, tactic, y); }
            @Override public void enqueue(CudaStream s) {
                DeviceBuffer w0 = ws.get();
                if (slices == null) g.run(0, xb, xs, wb, ws8, acc, w0, s);
                else slices.run(c.kernels(), xb, w0, s, (last, matrix, row0, lt) ->
                        (last ? gl : g).run(0, matrix, xs, wb, ws8, acc.slice(row0 * rowBytes, (last ? lastRows : rows) * rowBytes), lt, s));
                Fp8Epilogue.run(c.kernels(), acc, ACC, m, nn, ep, yb, s);
            }
            @Override public void close() {
                g.close();
                if (gl != g) gl.close();
            }
        };
    }

    private static Fp8Gemm plan(LayerContext c, Node n, int m, int nn, int kk) {
        Fp8Gemm.Spec spec;
        try {
            spec = new Fp8Gemm.Spec(m, nn, kk, ACC, false);
        } catch (IllegalArgumentException e) {
            throw GpuEngineException.unsupported(n, e.getMessage());
        }
        Fp8Gemm g = Fp8Gemm.plan(c.cublasLt(), spec, 0L, 1);
        if (g.algos().isEmpty()) { g.close(); throw GpuEngineException.unsupported(n, "cuBLASLt has no FP8 algorithm for " + m + "x" + nn + "x" + kk + " on this GPU"); }
        return g;
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

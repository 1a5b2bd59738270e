package org.tessel.ir.ops;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.tessel.api.AttrValue;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * Quantized matrix multiplies of the LLM decoders (domain "tessel"), each an activation A [..., K]
 * times a quantized weight stored as output rows [N, K] (see {@link WeightQuantizer}), giving
 * [..., N] in A's type:
 *
 * <ul>
 *   <li>{@code tessel.WeightOnlyMatMul}: INT8 or INT4 weights with a scale (and for asymmetric
 *       formats a zero point) per group of K; A stays floating (W8A16 / W4A16).</li>
 *   <li>{@code tessel.W8A8MatMul}: SmoothQuant's INT8 x INT8: A quantized per tensor at a calibrated
 *       scale, weights per output channel, the products summed exactly in int32 and scaled once.</li>
 * </ul>
 *
 * Their reference semantics dequantize and multiply in f32 with each output's products summed in
 * k order; the CPU engine's kernels give the same values bit for bit.
 */
public final class QuantizedMatMulOps {
    private QuantizedMatMulOps() {}

    public static final String WEIGHT_ONLY = "tessel.WeightOnlyMatMul";
    public static final String W8A8 = "tessel.W8A8MatMul";
    static final Set<DType> ACTIVATION_TYPES = java.util.EnumSet.of(DType.F32, DType.F16, DType.BF16);

    /** The (batch x rows) of A, and K and N of one use. */
    public record Dims(int m, int k, int n, Shape out) {}

    static Dims dims(TensorType a, int n) {
        if (a.rank() < 1) throw new OpException("A must have rank at least 1, got " + a);
        int k = a.shape().dim(-1);
        int[] out = a.shape().dims().clone();
        out[out.length - 1] = n;
        return new Dims((int) (a.numElements() / Math.max(1, k)), k, n, Shape.of(out));
    }

    /** Weight-only quantized MatMul: A [..., K] float times dequantize(W) transposed. */
    public static final class WeightOnlyMatMul extends BaseOp {
        WeightOnlyMatMul() {
            super(def("WeightOnlyMatMul", "A [..., K] times a group-wise INT8/INT4 quantized weight [N, K] dequantized: [..., N]")
                    .domain(TesselOps.DOMAIN).inputs(3, 4, "A", "W", "scales", "zero_points")
                    .requiredAttr("bits", AttrValue.Kind.INT, "Bits per weight code: 8 (i8 codes [N, K], or u8 with zero points) or 4 (u8 [N, K/2], two codes a byte, even k low)")
                    .requiredAttr("group_size", AttrValue.Kind.INT, "Consecutive K elements of an output row that share a scale (and zero point); divides K"));
        }

        /** Checks the inputs against each other and gives the dims; every message names the input at fault. */
        public static Dims check(TensorType a, TensorType w, TensorType scales, TensorType zeros, long bits, long group) {
            if (bits != 4 && bits != 8) throw new OpException("attribute bits must be 4 or 8, got " + bits);
            if (group < 1) throw new OpException("attribute group_size must be positive, got " + group);
            NnSupport.requireDType("A", a.dtype(), ACTIVATION_TYPES);
            if (w.rank() != 2) throw new OpException("W must be [N, K" + (bits == 4 ? "/2" : "") + "], got " + w);
            Dims d = dims(a, w.shape().dim(0));
            int k = d.k();
            if (k % group != 0) throw new OpException("group_size " + group + " does not divide K=" + k + " (A " + a + ")");
            if (bits == 4 && group % 2 != 0) throw new OpException("4-bit codes are packed two a byte, so group_size must be even, got " + group);
            DType wantW = bits == 4 || zeros != null ? DType.U8 : DType.I8;
            if (w.dtype() != wantW) throw new OpException("W must be " + wantW.text() + " for " + bits + "-bit " + (zeros == null ? "symmetric" : "asymmetric") + " codes, got " + w.dtype().text());
            int wantCols = bits == 4 ? k / 2 : k;
            if (w.shape().dim(1) != wantCols) throw new OpException("W " + w + " must have " + wantCols + " columns for K=" + k + " at " + bits + " bits");
            Shape groups = Shape.of(d.n(), (int) (k / group));
            if (!scales.dtype().isFloating() || scales.dtype() == DType.F64) throw new OpException("scales must be f32, f16 or bf16, got " + scales.dtype().text());
            if (!scales.shape().equals(groups)) throw new OpException("scales must be [N, K/group_size] = " + groups + ", got " + scales.shape());
            if (zeros != null) {
                if (zeros.dtype() != DType.U8) throw new OpException("zero_points must be u8, got " + zeros.dtype().text());
                if (!zeros.shape().equals(groups)) throw new OpException("zero_points must be [N, K/group_size] = " + groups + ", got " + zeros.shape());
            }
            return d;
        }

        static Dims check(InferenceContext ctx) {
            return check(ctx.input(0), ctx.input(1), ctx.input(2), ctx.hasInput(3) ? ctx.input(3) : null,
                    ctx.attrs().getInt("bits", 0), ctx.attrs().getInt("group_size", 0));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            return List.of(TensorType.of(ctx.input(0).dtype(), check(ctx).out()));
        }

        @Override public long macs(InferenceContext ctx, List<TensorType> outputs) {
            Dims d = check(ctx);
            return Math.multiplyExact((long) d.m() * d.n(), (long) d.k());
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor a = ctx.input(0), w = ctx.input(1), s = ctx.input(2), z = ctx.hasInput(3) ? ctx.input(3) : null;
            int bits = (int) ctx.attrs().getInt("bits", 0), group = (int) ctx.attrs().getInt("group_size", 0);
            Dims d = check(a.type(), w.type(), s.type(), z == null ? null : z.type(), bits, group);
            float[] wd = WeightQuantizer.dequantize(w, s, z, bits, group, d.n(), d.k());
            return List.of(Tensor.ofFloats(a.dtype(), d.out(), rowDots(a.floats(), wd, d)));
        }
    }

    /** y[i, j] = sum over k, in k order, of a[i, k] * w[j, k], in f32. */
    static float[] rowDots(float[] a, float[] w, Dims d) {
        int m = d.m(), k = d.k(), n = d.n();
        float[] y = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float acc = 0;
                for (int c = 0; c < k; c++) acc += a[i * k + c] * w[j * k + c];
                y[i * n + j] = acc;
            }
        return y;
    }

    /**
     * SmoothQuant's W8A8 MatMul: A quantized per tensor (code = A / a_scale rounded to nearest even,
     * clamped to [-127, 127]), W i8 [N, K] per output channel, y = (sum of code products, exact in int32)
     * * a_scale * w_scales[n].
     */
    public static final class W8A8MatMul extends BaseOp {
        W8A8MatMul() {
            super(def("W8A8MatMul", "A [..., K] quantized to int8 per tensor times an int8 weight [N, K] per output channel, int32 sums: [..., N]")
                    .domain(TesselOps.DOMAIN).inputs(4, 4, "A", "W", "w_scales", "a_scale"));
        }

        /** Largest K whose sums of 127 x 127 products stay within int32. */
        public static final int MAX_K = Integer.MAX_VALUE / (127 * 127);

        public static Dims check(TensorType a, TensorType w, TensorType ws, TensorType as) {
            NnSupport.requireDType("A", a.dtype(), ACTIVATION_TYPES);
            if (w.rank() != 2 || w.dtype() != DType.I8) throw new OpException("W must be i8 [N, K], got " + w);
            Dims d = dims(a, w.shape().dim(0));
            if (w.shape().dim(1) != d.k()) throw new OpException("W " + w + " must have K=" + d.k() + " columns (A " + a + ")");
            if (d.k() > MAX_K) throw new OpException("K=" + d.k() + " could overflow int32 sums (at most " + MAX_K + ")");
            if (ws.dtype() != DType.F32 || !ws.shape().equals(Shape.of(d.n()))) throw new OpException("w_scales must be f32 [N] = [" + d.n() + "], got " + ws);
            if (as.dtype() != DType.F32 || as.numElements() != 1) throw new OpException("a_scale must be one f32, got " + as);
            return d;
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            return List.of(TensorType.of(ctx.input(0).dtype(), check(ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(3)).out()));
        }

        @Override public long macs(InferenceContext ctx, List<TensorType> outputs) {
            Dims d = check(ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(3));
            return Math.multiplyExact((long) d.m() * d.n(), (long) d.k());
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor a = ctx.input(0), w = ctx.input(1), ws = ctx.input(2), as = ctx.input(3);
            Dims d = check(a.type(), w.type(), ws.type(), as.type());
            float sa = as.floats()[0];
            if (!(sa > 0) || Float.isInfinite(sa)) throw new OpException("a_scale must be positive and finite, got " + sa);
            int[] qa = quantizeActivations(a.floats(), sa);
            long[] qw = w.longs();
            float[] sw = ws.floats(), y = new float[d.m() * d.n()];
            int k = d.k(), n = d.n();
            for (int i = 0; i < d.m(); i++)
                for (int j = 0; j < n; j++) {
                    int acc = 0;
                    for (int c = 0; c < k; c++) acc += qa[i * k + c] * (int) qw[j * k + c];
                    y[i * n + j] = dequantizeSum(acc, sa, sw[j]);
                }
            return List.of(Tensor.ofFloats(a.dtype(), d.out(), y));
        }

        /** The int8 code of each activation at scale {@code s}: v / s (f32) rounded to nearest even, clamped to [-127, 127]. */
        public static int[] quantizeActivations(float[] a, float s) {
            int[] q = new int[a.length];
            for (int i = 0; i < a.length; i++) {
                double r = Math.rint(a[i] / s);
                q[i] = Double.isNaN(r) ? 0 : (int) Math.max(-127, Math.min(127, r));
            }
            return q;
        }

        /** An int32 sum of code products back to a real value: (acc * a_scale) * w_scale in f32. */
        public static float dequantizeSum(int acc, float aScale, float wScale) { return (acc * aScale) * wScale; }
    }

    static List<org.tessel.api.OpSchema> all() { return Arrays.asList(new WeightOnlyMatMul(), new W8A8MatMul()); }
}

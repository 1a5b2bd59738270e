package org.tessel.ir.ops;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;

/**
 * QuantizeLinear and DequantizeLinear (opset 21): affine (de)quantization with a scale and an
 * optional zero point that are per-tensor (one element), per-axis (1-D, one per slice of
 * {@code axis}) or blocked ({@code block_size} > 0: x's rank, with {@code ceil(dim/block_size)}
 * entries along {@code axis}). Tessel holds the 8-bit quantized types u8, i8 and the float8 types
 * (e4m3fn, e5m2, e4m3fnuz, e5m2fnuz; opset 19+: x / scale + zero point converted as Cast converts to float8,
 * {@code saturate} included), and i32 for dequantization; other ONNX targets are refused by name.
 */
final class QuantizeOps {
    private QuantizeOps() {}

    private static final Set<DType> QUANTIZED = EnumSet.of(DType.U8, DType.I8, DType.F8E4M3, DType.F8E5M2, DType.F8E4M3FNUZ, DType.F8E5M2FNUZ);
    private static final Set<DType> Q_INPUT = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.I32);
    private static final Set<DType> DQ_INPUT = EnumSet.of(DType.U8, DType.I8, DType.I32, DType.F8E4M3, DType.F8E5M2, DType.F8E4M3FNUZ, DType.F8E5M2FNUZ);
    private static final Set<DType> DQ_SCALE = EnumSet.of(DType.F32, DType.F16, DType.BF16);

    /**
     * How x's elements pick their scale: null for per-tensor, else for each flat index of x the
     * flat index into the scale. Validates the scale's shape against x, axis and block_size; with
     * build false only validates (type inference), returning null.
     */
    static int[] paramIndex(Shape x, Shape scale, long axisAttr, long blockSize, String scaleName, boolean build) {
        if (blockSize < 0) throw new OpException("attribute 'block_size' must be >= 0, got " + blockSize);
        if (blockSize == 0) {
            // a one-element scale is per-tensor whatever its rank-0/rank-1 spelling
            if (scale.numElements() == 1 && scale.rank() <= 1) return null;
            if (scale.rank() != 1)
                throw new OpException(scaleName + " must be a scalar (per-tensor) or 1-D (per-axis) when block_size is 0, got shape " + scale);
            int axis = OpUtil.axis(axisAttr, x.rank(), "attribute 'axis'");
            if (scale.dim(0) != x.dim(axis))
                throw new OpException(scaleName + " has " + scale.dim(0) + " elements but x has " + x.dim(axis) + " along axis " + axis + " (shape " + x + ")");
            if (!build) return null;
            int inner = 1;
            for (int d = axis + 1; d < x.rank(); d++) inner *= x.dim(d);
            int n = (int) x.numElements(), len = x.dim(axis);
            int[] idx = new int[n];
            for (int i = 0; i < n; i++) idx[i] = (i / inner) % len;
            return idx;
        }
        if (scale.rank() != x.rank())
            throw new OpException(scaleName + " must have x's rank " + x.rank() + " for blocked quantization, got shape " + scale);
        int axis = OpUtil.axis(axisAttr, x.rank(), "attribute 'axis'");
        for (int d = 0; d < x.rank(); d++) {
            long want = d == axis ? (x.dim(d) + blockSize - 1) / blockSize : x.dim(d);
            if (scale.dim(d) != want)
                throw new OpException(scaleName + " of shape " + scale + " does not match x of shape " + x + " with block_size "
                        + blockSize + " on axis " + axis + " (dimension " + d + " should be " + want + ")");
        }
        if (!build) return null;
        int n = (int) x.numElements(), rank = x.rank();
        int[] idx = new int[n], coord = new int[rank], ss = scale.strides();
        for (int i = 0; i < n; i++) {
            int s = 0;
            for (int d = 0; d < rank; d++) s += (d == axis ? (int) (coord[d] / blockSize) : coord[d]) * ss[d];
            idx[i] = s;
            for (int d = rank - 1; d >= 0; d--) {
                if (++coord[d] < x.dim(d)) break;
                coord[d] = 0;
            }
        }
        return idx;
    }

    private static void checkZeroPoint(TensorType scale, TensorType zp, String zpName, String scaleName) {
        // per-tensor is one element, spelled rank 0 or 1 (ONNX's float8 cases pair a [] scale with a [1] zero point)
        boolean perTensor = scale.shape().numElements() == 1 && scale.rank() <= 1 && zp.shape().numElements() == 1 && zp.rank() <= 1;
        if (!perTensor && !zp.shape().equals(scale.shape()))
            throw new OpException(zpName + " must have " + scaleName + "'s shape " + scale.shape() + ", got " + zp.shape());
    }

    /** y = saturate(round_half_even(x / y_scale) + y_zero_point). */
    static final class Quantize extends BaseOp {
        Quantize() {
            super(def("QuantizeLinear", "affine quantization to u8/i8: saturate(round(x / y_scale) + y_zero_point)")
                    .inputs(2, 3, "x", "y_scale", "y_zero_point").traits(Trait.ELEMENTWISE)
                    .intAttr("axis", 1, "axis of per-axis or blocked quantization")
                    .intAttr("block_size", 0, "block size along axis for blocked quantization; 0 is per-tensor or per-axis")
                    .intAttr("output_dtype", 0, "ONNX type code of y when y_zero_point is absent; 0 means u8")
                    .intAttr("saturate", 1, "float8 outputs only; integer outputs always saturate"));
        }

        private static DType outType(InferenceContext ctx) {
            long code = ctx.attrs().getInt("output_dtype", 0);
            DType fromAttr = code == 0 ? null : CastOp.fromOnnx(code, "attribute 'output_dtype'");
            DType t = ctx.hasInput(2) ? ctx.input(2).dtype() : fromAttr != null ? fromAttr : DType.U8;
            if (fromAttr != null && fromAttr != t)
                throw new OpException("attribute 'output_dtype' says " + fromAttr.text() + " but y_zero_point is " + t.text());
            DTypeSets.require(ctx.hasInput(2) ? "input y_zero_point" : "output y", t, QUANTIZED);
            return t;
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0), scale = ctx.input(1);
            DTypeSets.require("input x", x.dtype(), Q_INPUT);
            DTypeSets.require("input y_scale", scale.dtype(), Q_INPUT);
            paramIndex(x.shape(), scale.shape(), ctx.attrs().getInt("axis", 1), ctx.attrs().getInt("block_size", 0), "y_scale", false);
            if (ctx.hasInput(2)) checkZeroPoint(scale, ctx.input(2), "y_zero_point", "y_scale");
            return List.of(TensorType.of(outType(ctx), x.shape()));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0), scale = ctx.input(1);
            Tensor zp = ctx.hasInput(2) ? ctx.input(2) : null;
            DType t = ctx.outputType(0).dtype();
            int[] pi = paramIndex(x.shape(), scale.shape(), ctx.attrs().getInt("axis", 1), ctx.attrs().getInt("block_size", 0), "y_scale", true);
            DType xt = x.dtype();
            if (t.isFloat8()) return List.of(toFloat8(x, t, scale, zp, pi, ctx.attrs().getInt("saturate", 1) != 0));
            long lo = t == DType.U8 ? 0 : -128, hi = t == DType.U8 ? 255 : 127;
            Tensor out = Tensor.zeros(t, x.shape());
            long[] o = out.longs();
            for (int i = 0; i < o.length; i++) {
                int p = pi == null ? 0 : pi[i];
                double q = x.getDouble(i) / scale.getDouble(p);
                // the division happens in x's float type, as in ONNX's reference, so ties land where it puts them
                if (xt.isFloating() && xt != DType.F64) q = Kernels.roundDouble(xt, q);
                double v = Math.rint(q) + (zp == null ? 0 : zp.getLong(p));
                o[i] = Double.isNaN(v) ? 0 : (long) Math.max(lo, Math.min(hi, v));
            }
            return List.of(out);
        }
    }

    /** QuantizeLinear into a float8 type: x / scale (in x's type) + zero point, converted as Cast to float8 with {@code saturate}. */
    private static Tensor toFloat8(Tensor x, DType t, Tensor scale, Tensor zp, int[] pi, boolean saturate) {
        Tensor out = Tensor.zeros(t, x.shape());
        float[] o = out.floats();
        DType xt = x.dtype();
        for (int i = 0; i < o.length; i++) {
            int p = pi == null ? 0 : pi[i];
            double q = x.getDouble(i) / scale.getDouble(p);
            if (xt.isFloating() && xt != DType.F64) q = Kernels.roundDouble(xt, q);
            if (zp != null) q += zp.getDouble(p);
            float f = Kernels.roundToOdd(q);
            o[i] = t.float8Round(f, saturate);
        }
        return out;
    }

    /** y = (x - x_zero_point) * x_scale, in the scale's type. */
    static final class Dequantize extends BaseOp {
        Dequantize() {
            super(def("DequantizeLinear", "affine dequantization: (x - x_zero_point) * x_scale, in x_scale's type")
                    .inputs(2, 3, "x", "x_scale", "x_zero_point").traits(Trait.ELEMENTWISE)
                    .intAttr("axis", 1, "axis of per-axis or blocked dequantization")
                    .intAttr("block_size", 0, "block size along axis for blocked dequantization; 0 is per-tensor or per-axis"));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0), scale = ctx.input(1);
            DTypeSets.require("input x", x.dtype(), DQ_INPUT);
            DTypeSets.require("input x_scale", scale.dtype(), DQ_SCALE);
            paramIndex(x.shape(), scale.shape(), ctx.attrs().getInt("axis", 1), ctx.attrs().getInt("block_size", 0), "x_scale", false);
            if (ctx.hasInput(2)) {
                OpUtil.requireSameDType("inputs x and x_zero_point", x.dtype(), ctx.input(2).dtype());
                checkZeroPoint(scale, ctx.input(2), "x_zero_point", "x_scale");
            }
            return List.of(TensorType.of(scale.dtype(), x.shape()));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0), scale = ctx.input(1);
            Tensor zp = ctx.hasInput(2) ? ctx.input(2) : null;
            int[] pi = paramIndex(x.shape(), scale.shape(), ctx.attrs().getInt("axis", 1), ctx.attrs().getInt("block_size", 0), "x_scale", true);
            Tensor out = Tensor.zeros(scale.dtype(), x.shape());
            if (x.dtype().isFloat8()) {
                // a float8 value minus a float8 zero point, times a float scale: exact in double, rounded once
                for (int i = 0; i < out.size(); i++) {
                    int p = pi == null ? 0 : pi[i];
                    Kernels.store(out, i, (x.getDouble(i) - (zp == null ? 0 : zp.getDouble(p))) * scale.getDouble(p));
                }
                return List.of(out);
            }
            long[] a = x.longs();
            for (int i = 0; i < a.length; i++) {
                int p = pi == null ? 0 : pi[i];
                // for 8-bit x, (x - zp) times a float scale is exact in double, so the result is rounded once
                Kernels.store(out, i, (double) (a[i] - (zp == null ? 0 : zp.getLong(p))) * scale.getDouble(p));
            }
            return List.of(out);
        }
    }
}

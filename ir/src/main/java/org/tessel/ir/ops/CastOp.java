package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;

/**
 * Cast (opset 21, attribute {@code to}: an ONNX type code) and CastLike (the type of a second
 * input). Floats to integers truncate toward zero and wrap (NaN becomes 0), anything to bool is
 * "nonzero" (NaN is true), and narrowing to f16/bf16/float8 rounds once to nearest-even.
 * {@code saturate} only matters for the float8 targets: with 1 (the default) a value past the largest
 * (448 for e4m3fn, 57344 for e5m2 and e5m2fnuz, 240 for e4m3fnuz), or an infinity, becomes that
 * largest value; with 0, e5m2 gives infinity and the others NaN (ONNX's Cast table).
 */
final class CastOp extends BaseOp {
    private final boolean like;

    private CastOp(Def def, boolean like) {
        super(def);
        this.like = like;
    }

    static CastOp cast() {
        return new CastOp(def("Cast", "converts every element to the type given by attribute 'to' (an ONNX type code)")
                .inputs(1, 1, "input").traits(Trait.ELEMENTWISE)
                .requiredAttr("to", org.tessel.api.AttrValue.Kind.INT, "ONNX TensorProto.DataType code of the result")
                .intAttr("saturate", 1, "float8 targets only: 1 clamps out-of-range values to the largest finite value, 0 makes them infinite (e5m2) or NaN (the others)"), false);
    }

    static CastOp castLike() {
        return new CastOp(def("CastLike", "converts every element of input to the element type of target_type")
                .inputs(2, 2, "input", "target_type").traits(Trait.ELEMENTWISE)
                .intAttr("saturate", 1, "float8 targets only: 1 clamps out-of-range values to the largest finite value, 0 makes them infinite (e5m2) or NaN (the others)"), true);
    }

    /** The element type an ONNX type code names; fails naming the ONNX type when Tessel has none. */
    static DType fromOnnx(long code, String what) {
        if (code < Integer.MIN_VALUE || code > Integer.MAX_VALUE) throw new OpException(what + " " + code + " is not an ONNX type code");
        return DType.fromOnnx((int) code).orElseThrow(() -> new OpException(
                what + " is ONNX type " + DType.onnxName((int) code) + ", which Tessel cannot hold (supported: "
                        + DTypeSets.describe(DTypeSets.ALL) + ")"));
    }

    private DType target(List<TensorType> ins, org.tessel.api.Attributes attrs) {
        if (like) return ins.get(1).dtype();
        if (!attrs.has("to")) throw new OpException("attribute 'to' is required");
        return fromOnnx(attrs.getInt("to", 0), "attribute 'to'");
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0);
        if (like) ctx.input(1);
        return List.of(TensorType.of(target(ctx.inputTypes(), ctx.attrs()), x.shape()));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        DType to = ctx.outputType(0).dtype();
        if (to.isFloat8() && ctx.input(0).dtype() != to) return List.of(toFloat8(ctx.input(0), to, ctx.attrs().getInt("saturate", 1) != 0));
        return List.of(convert(ctx.input(0), to));
    }

    /**
     * x converted to a float8 type with ONNX's {@code saturate}: past the largest value (and from an
     * infinity) 1 gives that value, 0 infinity for f8e5m2 and NaN for the others.
     */
    static Tensor toFloat8(Tensor x, DType to, boolean saturate) {
        Tensor out = Tensor.zeros(to, x.shape());
        float[] o = out.floats();
        // round to f32 by round-to-odd first, so the rounding to float8 is the one correct rounding
        for (int i = 0; i < o.length; i++) o[i] = to.float8Round(Kernels.roundToOdd(x.getDouble(i)), saturate);
        return out;
    }

    /** x converted element by element to type to. */
    static Tensor convert(Tensor x, DType to) {
        DType from = x.dtype();
        if (from == to) return x.copy();
        Tensor out = Tensor.zeros(to, x.shape());
        int n = x.size();
        if (from.storage() == DType.Storage.LONG) {
            long[] a = x.longs();
            switch (to.storage()) {
                case LONG -> { long[] o = out.longs(); for (int i = 0; i < n; i++) o[i] = Tensor.wrap(to, a[i]); }
                case DOUBLE -> { double[] o = out.doubles(); for (int i = 0; i < n; i++) o[i] = a[i]; }
                // long -> float is correctly rounded in Java; narrower types round from the exact double
                case FLOAT -> {
                    float[] o = out.floats();
                    for (int i = 0; i < n; i++) o[i] = to == DType.F32 ? (float) a[i] : Kernels.roundDouble(to, a[i]);
                }
            }
        } else {
            for (int i = 0; i < n; i++) Kernels.store(out, i, x.getDouble(i));
        }
        return out;
    }
}

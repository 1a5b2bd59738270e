package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;

/**
 * Pow (opset 15): z = x ^ y with broadcasting; the exponent's type may differ from the base's and
 * the result has the base's type. Integer bases with integer exponents are computed exactly
 * (wrapping like repeated multiplication); a negative exponent gives the truncated real power,
 * so only 1 and -1 stay nonzero, and 0 to a negative power is refused. Everything else goes
 * through Math.pow in double, converted to the base's type.
 */
final class PowOp extends BaseOp {
    private static final java.util.Set<DType> BASE = DTypeSets.union(DTypeSets.FLOATS, java.util.EnumSet.of(DType.I32, DType.I64));

    PowOp() {
        super(def("Pow", "x raised to the power y, elementwise with broadcasting").inputs(2, 2, "X", "Y").traits(Trait.ELEMENTWISE));
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0), y = ctx.input(1);
        DTypeSets.require("input X", x.dtype(), BASE);
        DTypeSets.require("input Y", y.dtype(), DTypeSets.NUMERIC);
        return List.of(TensorType.of(x.dtype(), OpUtil.broadcast(x.shape(), y.shape())));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0), y = ctx.input(1);
        Shape s = OpUtil.broadcast(x.shape(), y.shape());
        Tensor out = Tensor.zeros(x.dtype(), s);
        int n = out.size();
        int[] ix = x.size() == n ? null : Kernels.index(x.shape(), s);
        int[] iy = y.size() == n ? null : Kernels.index(y.shape(), s);
        boolean integer = x.dtype().isInteger() && y.dtype().isInteger();
        for (int i = 0; i < n; i++) {
            int a = ix == null ? i : ix[i], b = iy == null ? i : iy[i];
            if (integer) out.setLong(i, intPow(x.getLong(a), y.getLong(b)));
            else Kernels.store(out, i, Math.pow(x.getDouble(a), y.getDouble(b)));
        }
        return List.of(out);
    }

    static long intPow(long base, long exp) {
        if (exp < 0) {
            if (base == 0) throw new OpException("integer 0 cannot be raised to the negative power " + exp);
            if (base == 1) return 1;
            if (base == -1) return (exp & 1) == 0 ? 1 : -1;
            return 0;
        }
        long result = 1, b = base;
        for (long e = exp; e > 0; e >>= 1) {
            if ((e & 1) != 0) result *= b;
            b *= b;
        }
        return result;
    }
}

package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * ArgMax and ArgMin (opset 13): the i64 index of the largest (smallest) element along {@code axis}
 * (default 0), the first one or with {@code select_last_index} the last one among ties;
 * {@code keepdims} (default 1) keeps the axis as size 1. As in numpy, NaN counts as the extreme
 * value for both. Integers compare exactly.
 */
final class ArgReduceOp extends BaseOp {
    private final boolean max;

    ArgReduceOp(boolean max) {
        super(def(max ? "ArgMax" : "ArgMin", "index of the " + (max ? "largest" : "smallest") + " element along axis")
                .inputs(1, 1, "data")
                .intAttr("axis", 0, "the axis searched")
                .intAttr("keepdims", 1, "1 keeps the axis as size 1, 0 removes it")
                .intAttr("select_last_index", 0, "1 picks the last of equal extremes instead of the first"));
        this.max = max;
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0);
        DTypeSets.require("input data", x.dtype(), DTypeSets.NUMERIC);
        return List.of(TensorType.of(DType.I64, outShape(x.shape(), ctx.attrs().getInt("axis", 0), ctx.attrs().getInt("keepdims", 1) != 0)));
    }

    private static Shape outShape(Shape s, long axisAttr, boolean keep) {
        boolean[] r = new boolean[s.rank()];
        r[OpUtil.axis(axisAttr, s.rank(), "attribute 'axis'")] = true;
        return ReduceOp.reducedShape(s, r, keep);
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0);
        Shape s = x.shape();
        int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), s.rank(), "attribute 'axis'");
        boolean last = ctx.attrs().getInt("select_last_index", 0) != 0;
        int len = s.dim(axis), inner = 1, outer = 1;
        for (int d = axis + 1; d < s.rank(); d++) inner *= s.dim(d);
        for (int d = 0; d < axis; d++) outer *= s.dim(d);
        Tensor out = Tensor.zeros(DType.I64, outShape(s, axis, ctx.attrs().getInt("keepdims", 1) != 0));
        long[] o = out.longs();
        boolean ints = x.dtype().storage() == DType.Storage.LONG;
        for (int a = 0; a < outer; a++) {
            for (int in = 0; in < inner; in++) {
                int base = a * len * inner + in, best = 0;
                for (int k = 1; k < len; k++) {
                    int i = base + k * inner, b = base + best * inner;
                    if (ints ? better(x.longs()[i], x.longs()[b], last) : better(x.getDouble(i), x.getDouble(b), last)) best = k;
                }
                o[a * inner + in] = best;
            }
        }
        return List.of(out);
    }

    private boolean better(long v, long best, boolean last) {
        int c = Long.compare(v, best);
        if (!max) c = -c;
        return c > 0 || (last && c == 0);
    }

    private boolean better(double v, double best, boolean last) {
        if (Double.isNaN(best)) return last && Double.isNaN(v);
        if (Double.isNaN(v)) return true;
        return max ? (v > best || (last && v == best)) : (v < best || (last && v == best));
    }
}

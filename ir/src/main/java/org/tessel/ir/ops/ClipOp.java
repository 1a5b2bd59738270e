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
 * Clip (opset 13): y = min(max(x, min), max) with optional one-element min and max inputs (absent
 * bounds are the type's extremes). As in numpy's clip, min > max yields max everywhere, and NaN
 * stays NaN. The bounds need not be constants.
 */
final class ClipOp extends BaseOp {
    ClipOp() {
        super(def("Clip", "clamps every element to [min, max]; absent bounds do not clamp")
                .inputs(1, 3, "input", "min", "max").traits(Trait.ELEMENTWISE));
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0);
        DTypeSets.require("input input", x.dtype(), DTypeSets.NUMERIC);
        for (int i = 1; i <= 2; i++) {
            if (!ctx.hasInput(i)) continue;
            TensorType b = ctx.input(i);
            String what = inputNames().get(i);
            OpUtil.requireSameDType("inputs input and " + what, x.dtype(), b.dtype());
            if (b.numElements() != 1) throw new OpException(what + " must be a scalar, got shape " + b.shape());
        }
        return List.of(x);
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0);
        for (int i = 1; i <= 2; i++)
            if (ctx.hasInput(i) && ctx.input(i).size() != 1) throw new OpException(inputNames().get(i) + " must be a scalar, got shape " + ctx.input(i).shape());
        Tensor out = Tensor.zeros(x.dtype(), x.shape());
        int n = x.size();
        switch (x.dtype().storage()) {
            case FLOAT -> {
                // bounds of x's type, so comparisons and results stay in that type
                float lo = ctx.hasInput(1) ? ctx.input(1).floats()[0] : Float.NEGATIVE_INFINITY;
                float hi = ctx.hasInput(2) ? ctx.input(2).floats()[0] : Float.POSITIVE_INFINITY;
                float[] a = x.floats(), o = out.floats();
                for (int i = 0; i < n; i++) o[i] = Math.min(Math.max(a[i], lo), hi);
            }
            case DOUBLE -> {
                double lo = ctx.hasInput(1) ? ctx.input(1).doubles()[0] : Double.NEGATIVE_INFINITY;
                double hi = ctx.hasInput(2) ? ctx.input(2).doubles()[0] : Double.POSITIVE_INFINITY;
                double[] a = x.doubles(), o = out.doubles();
                for (int i = 0; i < n; i++) o[i] = Math.min(Math.max(a[i], lo), hi);
            }
            case LONG -> {
                long lo = ctx.hasInput(1) ? ctx.input(1).longs()[0] : Long.MIN_VALUE;
                long hi = ctx.hasInput(2) ? ctx.input(2).longs()[0] : Long.MAX_VALUE;
                long[] a = x.longs(), o = out.longs();
                for (int i = 0; i < n; i++) o[i] = Math.min(Math.max(a[i], lo), hi);
            }
        }
        return List.of(out);
    }
}

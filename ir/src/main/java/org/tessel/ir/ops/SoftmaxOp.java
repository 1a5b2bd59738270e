package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * Softmax, LogSoftmax and Hardmax (opset 13): along one axis (default -1), the other dimensions
 * independent. Each slice subtracts its maximum first, so large inputs do not overflow, and
 * accumulates in double. Hardmax puts 1 at the first maximum of each slice and 0 elsewhere.
 */
final class SoftmaxOp extends BaseOp {
    enum Mode { SOFTMAX, LOG_SOFTMAX, HARDMAX }

    private final Mode mode;

    private SoftmaxOp(Def def, Mode mode) {
        super(def);
        this.mode = mode;
    }

    static SoftmaxOp softmax() {
        return new SoftmaxOp(def("Softmax", "exp(x) / sum(exp(x)) along axis").inputs(1, 1, "input")
                .intAttr("axis", -1, "the axis normalized over"), Mode.SOFTMAX);
    }

    static SoftmaxOp logSoftmax() {
        return new SoftmaxOp(def("LogSoftmax", "x - log(sum(exp(x))) along axis").inputs(1, 1, "input")
                .intAttr("axis", -1, "the axis normalized over"), Mode.LOG_SOFTMAX);
    }

    static SoftmaxOp hardmax() {
        return new SoftmaxOp(def("Hardmax", "1 at the first maximum along axis, 0 elsewhere").inputs(1, 1, "input")
                .intAttr("axis", -1, "the axis searched"), Mode.HARDMAX);
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0);
        DTypeSets.require("input input", x.dtype(), DTypeSets.FLOATS);
        OpUtil.axis(ctx.attrs().getInt("axis", -1), x.rank(), "attribute 'axis'");
        return List.of(TensorType.of(x.dtype(), x.shape()));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0);
        int axis = OpUtil.axis(ctx.attrs().getInt("axis", -1), x.rank(), "attribute 'axis'");
        int len = x.shape().dim(axis), inner = 1, outer = 1;
        for (int d = axis + 1; d < x.rank(); d++) inner *= x.shape().dim(d);
        for (int d = 0; d < axis; d++) outer *= x.shape().dim(d);
        Tensor out = Tensor.zeros(x.dtype(), x.shape());
        boolean f32 = x.dtype() == DType.F32;
        float[] xf = f32 ? x.floats() : null, of = f32 ? out.floats() : null;
        double[] e = new double[len];
        for (int o = 0; o < outer; o++) {
            for (int in = 0; in < inner; in++) {
                int base = o * len * inner + in;
                if (mode == Mode.HARDMAX) {
                    // the first maximum; NaN counts as the largest value, as numpy's argmax does
                    int best = 0;
                    for (int k = 1; k < len; k++) {
                        double v = x.getDouble(base + k * inner), b = x.getDouble(base + best * inner);
                        if (v > b || (Double.isNaN(v) && !Double.isNaN(b))) best = k;
                    }
                    if (len > 0) out.setDouble(base + best * inner, 1);
                    continue;
                }
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < len; k++) max = Math.max(max, f32 ? xf[base + k * inner] : x.getDouble(base + k * inner));
                double sum = 0;
                for (int k = 0; k < len; k++) {
                    double v = f32 ? xf[base + k * inner] : x.getDouble(base + k * inner);
                    e[k] = v - max;
                    sum += Math.exp(e[k]);
                }
                double logSum = Math.log(sum);
                for (int k = 0; k < len; k++) {
                    double y = mode == Mode.LOG_SOFTMAX ? e[k] - logSum : Math.exp(e[k]) / sum;
                    int i = base + k * inner;
                    if (f32) of[i] = (float) y;
                    else Kernels.store(out, i, y);
                }
            }
        }
        return List.of(out);
    }
}

package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * RMSNormalization (opset 23): scales X by the reciprocal root mean square over the dimensions from {@code axis} to
 * the last, then by Scale: Y = X / sqrt(mean(X^2) + epsilon) * Scale, Scale broadcasting onto X. X and Scale may be
 * different floating types (ONNX's T and V); Y has Scale's. {@code stash_type} (an ONNX float type code, default
 * f32) names the statistics' precision; the mean of squares is computed in double whatever it says.
 */
final class RmsNormOp extends BaseOp {
    RmsNormOp() {
        super(def("RMSNormalization", "divides by the root mean square over the trailing dimensions from axis, then scales")
                .inputs(2, 2, "X", "Scale").outputs(1, 1)
                .intAttr("axis", -1, "first normalized dimension")
                .floatAttr("epsilon", 1e-5f, "added to the mean of squares")
                .intAttr("stash_type", 1, "ONNX type code of the statistics' precision"));
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0), scale = ctx.input(1);
        DTypeSets.require("input X", x.dtype(), DTypeSets.FLOATS);
        DTypeSets.require("input Scale", scale.dtype(), DTypeSets.FLOATS);
        OpUtil.axis(ctx.attrs().getInt("axis", -1), x.rank(), "attribute 'axis'");
        DType st = CastOp.fromOnnx(ctx.attrs().getInt("stash_type", 1), "attribute 'stash_type'");
        if (!st.isFloating()) throw new OpException("attribute 'stash_type' must name a floating type, got " + st.text());
        if (!Kernels.broadcastsOnto(scale.shape(), x.shape()))
            throw new OpException("input Scale of shape " + scale.shape() + " cannot be broadcast to X's shape " + x.shape());
        return List.of(TensorType.of(scale.dtype(), x.shape()));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0), scale = ctx.input(1);
        int axis = OpUtil.axis(ctx.attrs().getInt("axis", -1), x.rank(), "attribute 'axis'");
        double eps = ctx.attrs().getFloat("epsilon", 1e-5f);
        int rows = 1, len = 1;
        for (int d = 0; d < x.rank(); d++) { if (d < axis) rows *= x.shape().dim(d); else len *= x.shape().dim(d); }
        int[] si = scale.size() == x.size() ? null : Kernels.index(scale.shape(), x.shape());
        Tensor y = Tensor.zeros(scale.dtype(), x.shape());
        double[] row = new double[len];
        for (int r = 0; r < rows; r++) {
            int base = r * len;
            double sq = 0;
            for (int k = 0; k < len; k++) { row[k] = x.getDouble(base + k); sq += row[k] * row[k]; }
            double rms = Math.sqrt(sq / len + eps);
            for (int k = 0; k < len; k++) {
                int i = base + k;
                Kernels.store(y, i, row[k] / rms * scale.getDouble(si == null ? i : si[i]));
            }
        }
        return List.of(y);
    }
}

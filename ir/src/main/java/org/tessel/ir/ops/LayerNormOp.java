package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * LayerNormalization (opset 17): standardizes X over the dimensions from {@code axis} to the last,
 * then scales and shifts: Y = (X - mean) / sqrt(var + epsilon) * Scale + B, Scale and B
 * broadcasting onto X. Optional outputs Mean and InvStdDev keep X's rank with the normalized
 * dimensions set to 1; their element type is {@code stash_type} (an ONNX float type code,
 * default f32). Mean and variance are computed in double, the variance from the centered values.
 */
final class LayerNormOp extends BaseOp {
    LayerNormOp() {
        super(def("LayerNormalization", "normalizes over the trailing dimensions from axis, then scales and shifts")
                .inputs(2, 3, "X", "Scale", "B").outputs(1, 3)
                .intAttr("axis", -1, "first normalized dimension")
                .floatAttr("epsilon", 1e-5f, "added to the variance")
                .intAttr("stash_type", 1, "ONNX type code of Mean and InvStdDev (the statistics' precision)"));
    }

    private static DType stashType(long code) {
        DType t = CastOp.fromOnnx(code, "attribute 'stash_type'");
        if (!t.isFloating()) throw new OpException("attribute 'stash_type' must name a floating type, got " + t.text());
        return t;
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0);
        DTypeSets.require("input X", x.dtype(), DTypeSets.FLOATS);
        int axis = OpUtil.axis(ctx.attrs().getInt("axis", -1), x.rank(), "attribute 'axis'");
        for (int i = 1; i <= 2; i++) {
            if (!ctx.hasInput(i)) continue;
            TensorType p = ctx.input(i);
            String what = inputNames().get(i);
            OpUtil.requireSameDType("inputs X and " + what, x.dtype(), p.dtype());
            if (!Kernels.broadcastsOnto(p.shape(), x.shape()))
                throw new OpException("input " + what + " of shape " + p.shape() + " cannot be broadcast to X's shape " + x.shape());
        }
        List<TensorType> out = new ArrayList<>();
        out.add(TensorType.of(x.dtype(), x.shape()));
        if (ctx.numOutputs() > 1) {
            DType st = stashType(ctx.attrs().getInt("stash_type", 1));
            TensorType stat = TensorType.of(st, statShape(x.shape(), axis));
            for (int i = 1; i < ctx.numOutputs(); i++) out.add(stat);
        }
        return out;
    }

    static Shape statShape(Shape x, int axis) {
        int[] d = x.dims();
        for (int i = axis; i < d.length; i++) d[i] = 1;
        return Shape.of(d);
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0), scale = ctx.input(1), bias = ctx.hasInput(2) ? ctx.input(2) : null;
        int axis = OpUtil.axis(ctx.attrs().getInt("axis", -1), x.rank(), "attribute 'axis'");
        double eps = ctx.attrs().getFloat("epsilon", 1e-5f);
        int rows = 1, len = 1;
        for (int d = 0; d < x.rank(); d++) { if (d < axis) rows *= x.shape().dim(d); else len *= x.shape().dim(d); }
        int[] si = scale.size() == x.size() ? null : Kernels.index(scale.shape(), x.shape());
        int[] bi = bias == null || bias.size() == x.size() ? null : Kernels.index(bias.shape(), x.shape());
        Tensor y = Tensor.zeros(x.dtype(), x.shape());
        Tensor mean = ctx.numOutputs() > 1 ? Tensor.zeros(ctx.outputType(1)) : null;
        Tensor inv = ctx.numOutputs() > 2 ? Tensor.zeros(ctx.outputType(2)) : null;
        double[] row = new double[len];
        for (int r = 0; r < rows; r++) {
            int base = r * len;
            double sum = 0;
            for (int k = 0; k < len; k++) { row[k] = x.getDouble(base + k); sum += row[k]; }
            double mu = sum / len, sq = 0;
            for (int k = 0; k < len; k++) { double dv = row[k] - mu; sq += dv * dv; }
            double invStd = 1 / Math.sqrt(sq / len + eps);
            for (int k = 0; k < len; k++) {
                int i = base + k;
                double v = (row[k] - mu) * invStd * scale.getDouble(si == null ? i : si[i]);
                if (bias != null) v += bias.getDouble(bi == null ? i : bi[i]);
                Kernels.store(y, i, v);
            }
            if (mean != null) Kernels.store(mean, r, mu);
            if (inv != null) Kernels.store(inv, r, invStd);
        }
        List<Tensor> out = new ArrayList<>();
        out.add(y);
        if (mean != null) out.add(mean);
        if (inv != null) out.add(inv);
        return out;
    }
}

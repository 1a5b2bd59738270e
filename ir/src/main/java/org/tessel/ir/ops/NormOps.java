package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.AttrValue;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;

/** Channel-wise normalizations over image tensors: BatchNormalization (inference form) and LRN. */
public final class NormOps {
    private NormOps() {}

    /**
     * BatchNormalization at inference: {@code Y = (X - mean) / sqrt(var + epsilon) * scale + B}
     * per channel (axis 1). Training mode, and with it the running-statistics outputs, is refused.
     */
    public static final class BatchNormalization extends BaseOp {
        private static final String[] PARAMS = {"scale", "B", "input_mean", "input_var"};

        public BatchNormalization() {
            super(def("BatchNormalization", "per-channel affine normalization with given statistics (inference form)")
                    .inputs(5, 5, "X", "scale", "B", "input_mean", "input_var").outputs(1, 3)
                    .traits(Trait.LAYOUT_SENSITIVE)
                    .floatAttr("epsilon", 1e-5f, "added to the variance before the square root")
                    .floatAttr("momentum", 0.9f, "running-statistics momentum (training only; ignored)")
                    .intAttr("training_mode", 0, "must be 0: Tessel runs the inference form"));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            long tm = ctx.attrs().getInt("training_mode", 0);
            if (tm != 0)
                throw new OpException("training_mode=" + tm + " is not supported: BatchNormalization runs in inference form (training_mode must be 0)");
            if (ctx.numOutputs() > 1)
                throw new OpException("outputs running_mean and running_var exist only in training mode; the inference form has one output, node declares "
                        + ctx.numOutputs());
            TensorType x = ctx.input(0);
            NnSupport.requireDType("X", x.dtype(), NnSupport.FLOATS);
            if (x.rank() < 2) throw new OpException("input X must have rank at least 2 (N, C, ...), got shape " + x.shape());
            int c = x.shape().dim(1);
            for (int i = 1; i <= 4; i++) {
                TensorType p = ctx.input(i);
                NnSupport.requireDType(PARAMS[i - 1], p.dtype(), NnSupport.FLOATS);
                if (p.rank() != 1 || p.shape().dim(0) != c)
                    throw new OpException("input " + PARAMS[i - 1] + " must have shape [" + c + "] (one value per channel of X " + x.shape() + "), got " + p.shape());
            }
            return List.of(TensorType.of(x.dtype(), x.shape()));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            double eps = ctx.attrs().getFloat("epsilon", 1e-5f);
            int n = x.shape().dim(0), c = x.shape().dim(1);
            int inner = n * c == 0 ? 0 : x.size() / (n * c);
            double[] mul = new double[c], add = new double[c];
            for (int ch = 0; ch < c; ch++) {
                double s = ctx.input(1).getDouble(ch), b = ctx.input(2).getDouble(ch);
                double mean = ctx.input(3).getDouble(ch), var = ctx.input(4).getDouble(ch);
                mul[ch] = s / Math.sqrt(var + eps);
                add[ch] = b - mean * mul[ch];
            }
            if (x.dtype() == DType.F64) {
                double[] in = x.doubles(), out = new double[in.length];
                for (int i = 0, ch = 0, at = 0; i < n * c; i++, ch = (ch + 1) % c)
                    for (int j = 0; j < inner; j++, at++) out[at] = in[at] * mul[ch] + add[ch];
                return List.of(Tensor.ofDoubles(x.shape(), out));
            }
            float[] in = x.floats(), out = new float[in.length];
            for (int i = 0, ch = 0, at = 0; i < n * c; i++, ch = (ch + 1) % c) {
                double m = mul[ch], a = add[ch];
                for (int j = 0; j < inner; j++, at++) out[at] = (float) (in[at] * m + a);
            }
            return List.of(Tensor.ofFloats(x.dtype(), x.shape(), out));
        }
    }

    /**
     * Local response normalization across channels: {@code y = x / (bias + alpha / size *
     * sum_sq)^beta}, sum_sq over channels {@code c - floor((size-1)/2) .. c + ceil((size-1)/2)}.
     */
    public static final class Lrn extends BaseOp {
        public Lrn() {
            super(def("LRN", "local response normalization across channels")
                    .inputs(1, 1, "X")
                    .traits(Trait.LAYOUT_SENSITIVE)
                    .floatAttr("alpha", 1e-4f, "scale of the sum of squares")
                    .floatAttr("beta", 0.75f, "exponent")
                    .floatAttr("bias", 1f, "added before the exponent")
                    .requiredAttr("size", AttrValue.Kind.INT, "number of channels summed over"));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            NnSupport.requireDType("X", x.dtype(), NnSupport.FLOATS);
            if (x.rank() < 2) throw new OpException("input X must have rank at least 2 (N, C, ...), got shape " + x.shape());
            if (!ctx.attrs().has("size")) throw new OpException("attribute 'size' is required");
            long size = ctx.attrs().getInt("size", 0);
            if (size < 1) throw new OpException("attribute 'size' must be at least 1, got " + size);
            return List.of(x);
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            double alpha = ctx.attrs().getFloat("alpha", 1e-4f), beta = ctx.attrs().getFloat("beta", 0.75f), bias = ctx.attrs().getFloat("bias", 1f);
            int size = (int) ctx.attrs().getInt("size", 1);
            Shape s = x.shape();
            int n = s.dim(0), c = s.dim(1), inner = n * c == 0 ? 0 : x.size() / (n * c);
            int before = (size - 1) / 2, after = size - 1 - before;
            double[] v = NnSupport.toDoubles(x), y = new double[v.length];
            for (int b = 0; b < n; b++)
                for (int ch = 0; ch < c; ch++) {
                    int lo = Math.max(0, ch - before), hi = Math.min(c - 1, ch + after);
                    for (int j = 0; j < inner; j++) {
                        double sq = 0;
                        for (int q = lo; q <= hi; q++) {
                            double e = v[(b * c + q) * inner + j];
                            sq += e * e;
                        }
                        int at = (b * c + ch) * inner + j;
                        y[at] = v[at] / Math.pow(bias + alpha / size * sq, beta);
                    }
                }
            return List.of(NnSupport.fromDoubles(x.dtype(), s, y));
        }
    }
}

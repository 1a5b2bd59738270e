package org.tessel.ir.ops;

import java.util.Arrays;
import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;

/**
 * The pooling ops: MaxPool (with the optional Indices output), AveragePool and GlobalAveragePool,
 * over 1 to 3 spatial axes. Windows come from {@link SpatialWindow}; each window only reads taps
 * that fall inside the input. AveragePool divides by the number of taps inside the input, or with
 * count_include_pad=1 by the number inside the explicitly padded extent (the part of a ceil_mode
 * window hanging past the end padding is never counted, as in onnxruntime and PyTorch).
 */
public final class PoolOps {
    private PoolOps() {}

    static SpatialWindow window(Shape x, Attributes a) {
        NnSupport.requireImage("X", x);
        int r = x.rank() - 2;
        long[] ks = a.getInts("kernel_shape");
        if (ks == null) throw new OpException("attribute 'kernel_shape' is required");
        int[] kernel = SpatialWindow.perAxis(a, "kernel_shape", r, 1, 1);
        long ceil = a.getInt("ceil_mode", 0);
        if (ceil != 0 && ceil != 1) throw new OpException("attribute 'ceil_mode' must be 0 or 1, got " + ceil);
        return SpatialWindow.resolve(a, NnSupport.spatial(x), kernel, ceil == 1);
    }

    static Shape outShape(Shape x, SpatialWindow w) { return Shape.of(NnSupport.concat(x.dim(0), x.dim(1), w.out())); }

    public static final class MaxPool extends BaseOp {
        public MaxPool() {
            super(def("MaxPool", "maximum over sliding windows, optionally with the flat index of each maximum")
                    .inputs(1, 1, "X").outputs(1, 2)
                    .traits(Trait.LAYOUT_SENSITIVE)
                    .stringAttr("auto_pad", "NOTSET", "NOTSET, SAME_UPPER, SAME_LOWER or VALID")
                    .intAttr("ceil_mode", 0, "round output sizes up instead of down")
                    .intsAttr("dilations", "dilation per spatial axis (default 1)")
                    .requiredAttr("kernel_shape", org.tessel.api.AttrValue.Kind.INTS, "window size per spatial axis")
                    .intsAttr("pads", "begin pads per axis, then end pads (default 0)")
                    .intAttr("storage_order", 0, "indices in row-major (0) or column-major (1) order")
                    .intsAttr("strides", "stride per spatial axis (default 1)"));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            NnSupport.requireDType("X", x.dtype(), NnSupport.FLOATS_AND_8BIT);
            long so = ctx.attrs().getInt("storage_order", 0);
            if (so != 0 && so != 1) throw new OpException("attribute 'storage_order' must be 0 or 1, got " + so);
            Shape out = outShape(x.shape(), window(x.shape(), ctx.attrs()));
            TensorType y = TensorType.of(x.dtype(), out);
            return ctx.numOutputs() == 1 ? List.of(y) : List.of(y, TensorType.of(DType.I64, out));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            SpatialWindow w = window(x.shape(), ctx.attrs());
            boolean colMajor = ctx.attrs().getInt("storage_order", 0) == 1;
            SpatialWindow w3 = w.as3d();
            int[] in = w3.in(), out = w3.out(), k = w3.kernel(), s = w3.strides(), d = w3.dilations(), p = w3.padBegin();
            int planes = x.shape().dim(0) * x.shape().dim(1);
            int inP = in[0] * in[1] * in[2], outP = out[0] * out[1] * out[2];
            double[] xv = NnSupport.toDoubles(x), yv = new double[planes * outP];
            long[] idx = new long[planes * outP];
            for (int pl = 0; pl < planes; pl++) {
                int xb = pl * inP, o = pl * outP;
                for (int od = 0; od < out[0]; od++)
                    for (int oh = 0; oh < out[1]; oh++)
                        for (int ow = 0; ow < out[2]; ow++, o++) {
                            double best = Double.NEGATIVE_INFINITY;
                            long at = -1;
                            for (int kd = 0; kd < k[0]; kd++) {
                                int id = od * s[0] - p[0] + kd * d[0];
                                if (id < 0 || id >= in[0]) continue;
                                for (int kh = 0; kh < k[1]; kh++) {
                                    int ih = oh * s[1] - p[1] + kh * d[1];
                                    if (ih < 0 || ih >= in[1]) continue;
                                    for (int kw = 0; kw < k[2]; kw++) {
                                        int iw = ow * s[2] - p[2] + kw * d[2];
                                        if (iw < 0 || iw >= in[2]) continue;
                                        double v = xv[xb + (id * in[1] + ih) * in[2] + iw];
                                        if (v > best || at < 0) {
                                            best = v;
                                            at = colMajor ? id + (long) in[0] * (ih + (long) in[1] * iw) : (id * in[1] + ih) * (long) in[2] + iw;
                                        }
                                    }
                                }
                            }
                            yv[o] = best;
                            idx[o] = at < 0 ? -1 : (long) pl * inP + at;
                        }
            }
            Shape os = outShape(x.shape(), w);
            Tensor y = NnSupport.fromDoubles(x.dtype(), os, yv);
            return ctx.numOutputs() == 1 ? List.of(y) : List.of(y, Tensor.ofLongs(DType.I64, os, idx));
        }
    }

    public static final class AveragePool extends BaseOp {
        public AveragePool() {
            super(def("AveragePool", "mean over sliding windows")
                    .inputs(1, 1, "X")
                    .traits(Trait.LAYOUT_SENSITIVE)
                    .stringAttr("auto_pad", "NOTSET", "NOTSET, SAME_UPPER, SAME_LOWER or VALID")
                    .intAttr("ceil_mode", 0, "round output sizes up instead of down")
                    .intAttr("count_include_pad", 0, "count padding positions in the divisor")
                    .intsAttr("dilations", "dilation per spatial axis (default 1)")
                    .requiredAttr("kernel_shape", org.tessel.api.AttrValue.Kind.INTS, "window size per spatial axis")
                    .intsAttr("pads", "begin pads per axis, then end pads (default 0)")
                    .intsAttr("strides", "stride per spatial axis (default 1)"));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            NnSupport.requireDType("X", x.dtype(), NnSupport.FLOATS);
            long cip = ctx.attrs().getInt("count_include_pad", 0);
            if (cip != 0 && cip != 1) throw new OpException("attribute 'count_include_pad' must be 0 or 1, got " + cip);
            return List.of(TensorType.of(x.dtype(), outShape(x.shape(), window(x.shape(), ctx.attrs()))));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            SpatialWindow w = window(x.shape(), ctx.attrs());
            boolean includePad = ctx.attrs().getInt("count_include_pad", 0) == 1;
            SpatialWindow w3 = w.as3d();
            int[] in = w3.in(), out = w3.out(), k = w3.kernel(), s = w3.strides(), d = w3.dilations(), p = w3.padBegin(), pe = w3.padEnd();
            int planes = x.shape().dim(0) * x.shape().dim(1);
            int inP = in[0] * in[1] * in[2], outP = out[0] * out[1] * out[2];
            double[] xv = NnSupport.toDoubles(x), yv = new double[planes * outP];
            for (int pl = 0; pl < planes; pl++) {
                int xb = pl * inP, o = pl * outP;
                for (int od = 0; od < out[0]; od++)
                    for (int oh = 0; oh < out[1]; oh++)
                        for (int ow = 0; ow < out[2]; ow++, o++) {
                            double sum = 0;
                            long inside = 0, padded = 1;
                            int[] pos = {od, oh, ow};
                            // taps within the explicitly padded extent, per axis (for count_include_pad)
                            for (int ax = 0; ax < 3; ax++) {
                                int cnt = 0;
                                for (int t = 0; t < k[ax]; t++) {
                                    int i = pos[ax] * s[ax] - p[ax] + t * d[ax];
                                    if (i >= -p[ax] && i < in[ax] + pe[ax]) cnt++;
                                }
                                padded *= cnt;
                            }
                            for (int kd = 0; kd < k[0]; kd++) {
                                int id = od * s[0] - p[0] + kd * d[0];
                                if (id < 0 || id >= in[0]) continue;
                                for (int kh = 0; kh < k[1]; kh++) {
                                    int ih = oh * s[1] - p[1] + kh * d[1];
                                    if (ih < 0 || ih >= in[1]) continue;
                                    int row = xb + (id * in[1] + ih) * in[2];
                                    for (int kw = 0; kw < k[2]; kw++) {
                                        int iw = ow * s[2] - p[2] + kw * d[2];
                                        if (iw < 0 || iw >= in[2]) continue;
                                        sum += xv[row + iw];
                                        inside++;
                                    }
                                }
                            }
                            long div = includePad ? padded : inside;
                            yv[o] = div == 0 ? 0 : sum / div;
                        }
            }
            return List.of(NnSupport.fromDoubles(x.dtype(), outShape(x.shape(), w), yv));
        }
    }

    public static final class GlobalAveragePool extends BaseOp {
        public GlobalAveragePool() {
            super(def("GlobalAveragePool", "mean over all spatial positions of each channel")
                    .inputs(1, 1, "X").traits(Trait.LAYOUT_SENSITIVE));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            NnSupport.requireDType("X", x.dtype(), NnSupport.FLOATS);
            if (x.rank() < 2) throw new OpException("input X must have rank at least 2 (N, C, spatial...), got shape " + x.shape());
            int[] d = x.shape().dims();
            Arrays.fill(d, 2, d.length, 1);
            return List.of(TensorType.of(x.dtype(), Shape.of(d)));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            int planes = x.shape().dim(0) * x.shape().dim(1);
            int size = planes == 0 ? 0 : x.size() / planes;
            double[] y = new double[planes];
            for (int pl = 0; pl < planes; pl++) {
                double sum = 0;
                int base = pl * size;
                if (x.dtype() == DType.F64) { double[] v = x.doubles(); for (int i = 0; i < size; i++) sum += v[base + i]; }
                else { float[] v = x.floats(); for (int i = 0; i < size; i++) sum += v[base + i]; }
                y[pl] = size == 0 ? 0 : sum / size;
            }
            return List.of(NnSupport.fromDoubles(x.dtype(), ctx.outputType(0).shape(), y));
        }
    }
}

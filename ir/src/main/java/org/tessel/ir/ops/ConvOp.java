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
 * ONNX Conv over 1 to 3 spatial axes with groups, strides, dilations, pads and auto_pad.
 *
 * <p>The reference implementation is a GEMM per image and group: {@code Y_g[Mg, P] = W_g[Mg, K] *
 * col[K, P]} where col is the im2col view of the input (K = Cg * kernel elements, P = output
 * positions). The im2col matrix is never built: {@link GemmKernels} asks for it panel by panel
 * and {@link #fillRow} computes each panel row from the input directly. A 1x1 convolution with
 * stride 1 and no padding needs no im2col at all: the input image is already the B matrix.
 * Floating types narrower than f32 are computed in f32 and rounded once at the end; f64 runs the
 * same scheme in double.
 */
public final class ConvOp extends BaseOp {
    public ConvOp() {
        super(def("Conv", "N-D convolution with groups, strides, dilations and padding")
                .inputs(2, 3, "X", "W", "B")
                .traits(Trait.LAYOUT_SENSITIVE)
                .stringAttr("auto_pad", "NOTSET", "NOTSET, SAME_UPPER, SAME_LOWER or VALID")
                .intsAttr("dilations", "dilation per spatial axis (default 1)")
                .intAttr("group", 1, "number of groups input and output channels are divided into")
                .intsAttr("kernel_shape", "kernel size per spatial axis (default: from W)")
                .intsAttr("pads", "begin pads per axis, then end pads (default 0)")
                .intsAttr("strides", "stride per spatial axis (default 1)"));
    }

    /** Everything about one use of Conv that the evaluation needs, checked. */
    record Geometry(int n, int c, int m, int group, SpatialWindow window) {
        int cg() { return c / group; }
        int mg() { return m / group; }
    }

    static Geometry geometry(Shape x, Shape w, Shape b, Attributes a) {
        NnSupport.requireImage("X", x);
        if (w.rank() != x.rank())
            throw new OpException("input W must have the rank of X (" + x.rank() + "), got shape " + w);
        long group = a.getInt("group", 1);
        if (group < 1) throw new OpException("attribute 'group' must be at least 1, got " + group);
        int c = x.dim(1), m = w.dim(0), g = Math.toIntExact(group);
        if (c % g != 0) throw new OpException("group " + g + " does not divide the " + c + " input channels of X " + x);
        if (m % g != 0) throw new OpException("group " + g + " does not divide the " + m + " output channels of W " + w);
        if (w.dim(1) * g != c)
            throw new OpException("X " + x + " has " + c + " channels, but W " + w + " with group " + g + " expects "
                    + (long) w.dim(1) * g + " (" + w.dim(1) + " per group)");
        if (b != null && (b.rank() != 1 || b.dim(0) != m))
            throw new OpException("input B must have shape [" + m + "] (one bias per output channel), got " + b);
        int[] kernel = NnSupport.spatial(w);
        for (int kd : kernel) if (kd < 1) throw new OpException("the spatial dims of W " + w + " (the kernel) must be at least 1");
        long[] ks = a.getInts("kernel_shape");
        if (ks != null && !Arrays.equals(ks, Arrays.stream(kernel).asLongStream().toArray()))
            throw new OpException("attribute 'kernel_shape' " + Arrays.toString(ks) + " does not match the spatial dims of W " + w);
        SpatialWindow win = SpatialWindow.resolve(a, NnSupport.spatial(x), kernel, false);
        return new Geometry(x.dim(0), c, m, g, win);
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0), w = ctx.input(1);
        NnSupport.requireDType("X", x.dtype(), NnSupport.FLOATS);
        NnSupport.requireSameDType("W", w, "X", x.dtype());
        TensorType b = ctx.hasInput(2) ? ctx.input(2) : null;
        if (b != null) NnSupport.requireSameDType("B", b, "X", x.dtype());
        Geometry g = geometry(x.shape(), w.shape(), b == null ? null : b.shape(), ctx.attrs());
        return List.of(TensorType.of(x.dtype(), Shape.of(NnSupport.concat(g.n(), g.m(), g.window().out()))));
    }

    @Override public long macs(InferenceContext ctx, List<TensorType> outputs) {
        TensorType w = ctx.input(1);
        long perOutput = w.shape().numElements() / w.shape().dim(0); // Cg * kernel elements
        return Math.multiplyExact(outputs.get(0).numElements(), perOutput);
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0), w = ctx.input(1), b = ctx.hasInput(2) ? ctx.input(2) : null;
        Geometry g = geometry(x.shape(), w.shape(), b == null ? null : b.shape(), ctx.attrs());
        Shape outShape = ctx.outputType(0).shape();
        if (x.dtype() == DType.F64) return List.of(Tensor.ofDoubles(outShape, convDouble(g, x.doubles(), w.doubles(), b == null ? null : b.doubles())));
        float[] y = convFloat(g, x.floats(), w.floats(), b == null ? null : b.floats());
        return List.of(Tensor.ofFloats(x.dtype(), outShape, y)); // rounds f16/bf16 in place
    }

    private static boolean pointwise(SpatialWindow w) {
        for (int i = 0; i < w.rank(); i++)
            if (w.kernel()[i] != 1 || w.strides()[i] != 1 || w.padBegin()[i] != 0 || w.padEnd()[i] != 0) return false;
        return true;
    }

    static float[] convFloat(Geometry g, float[] x, float[] w, float[] bias) {
        SpatialWindow win = g.window().as3d();
        int cg = g.cg(), mg = g.mg();
        int kSize = (int) NnSupport.product(win.kernel()), kDim = cg * kSize;
        int inP = (int) NnSupport.product(win.in()), outP = (int) NnSupport.product(win.out());
        float[] y = new float[Math.multiplyExact(g.n() * g.m(), outP)];
        if (bias != null)
            for (int n = 0; n < g.n(); n++)
                for (int m = 0; m < g.m(); m++) Arrays.fill(y, (n * g.m() + m) * outP, (n * g.m() + m + 1) * outP, bias[m]);
        boolean direct = pointwise(win);
        for (int n = 0; n < g.n(); n++) {
            for (int gi = 0; gi < g.group(); gi++) {
                int xBase = (n * g.c() + gi * cg) * inP;
                GemmKernels.FloatPanels src = direct ? GemmKernels.dense(x, xBase, inP, false)
                        : (k0, kb, j0, nb, rows) -> {
                            for (int r = 0; r < kb; r++) {
                                int k = k0 + r;
                                fillRow(x, xBase + (k / kSize) * inP, win, k % kSize, j0, nb, rows[r]);
                            }
                        };
                GemmKernels.sgemm(mg, outP, kDim, 1f, w, gi * mg * kDim, kDim, 1, src, y, (n * g.m() + gi * mg) * outP, outP);
            }
        }
        return y;
    }

    static double[] convDouble(Geometry g, double[] x, double[] w, double[] bias) {
        SpatialWindow win = g.window().as3d();
        int cg = g.cg(), mg = g.mg();
        int kSize = (int) NnSupport.product(win.kernel()), kDim = cg * kSize;
        int inP = (int) NnSupport.product(win.in()), outP = (int) NnSupport.product(win.out());
        double[] y = new double[Math.multiplyExact(g.n() * g.m(), outP)];
        if (bias != null)
            for (int n = 0; n < g.n(); n++)
                for (int m = 0; m < g.m(); m++) Arrays.fill(y, (n * g.m() + m) * outP, (n * g.m() + m + 1) * outP, bias[m]);
        boolean direct = pointwise(win);
        for (int n = 0; n < g.n(); n++) {
            for (int gi = 0; gi < g.group(); gi++) {
                int xBase = (n * g.c() + gi * cg) * inP;
                GemmKernels.DoublePanels src = direct ? GemmKernels.dense(x, xBase, inP, false)
                        : (k0, kb, j0, nb, rows) -> {
                            for (int r = 0; r < kb; r++) {
                                int k = k0 + r;
                                fillRow(x, xBase + (k / kSize) * inP, win, k % kSize, j0, nb, rows[r]);
                            }
                        };
                GemmKernels.dgemm(mg, outP, kDim, 1.0, w, gi * mg * kDim, kDim, 1, src, y, (n * g.m() + gi * mg) * outP, outP);
            }
        }
        return y;
    }

    /**
     * One row of the im2col matrix: for kernel tap {@code tap} (flat over kd, kh, kw) of the
     * channel image at {@code chan}, the input value seen at output positions {@code j0..j0+nb}
     * (zero where the tap falls in the padding). Walks the positions one output row at a time so
     * the bounds checks on depth and height are made once per row.
     */
    static void fillRow(float[] x, int chan, SpatialWindow w, int tap, int j0, int nb, float[] dst) {
        int[] in = w.in(), out = w.out(), k = w.kernel(), s = w.strides(), d = w.dilations(), p = w.padBegin();
        int kw = tap % k[2], kh = (tap / k[2]) % k[1], kd = tap / (k[2] * k[1]);
        int ow = j0 % out[2], oh = (j0 / out[2]) % out[1], od = j0 / (out[2] * out[1]);
        int inH = in[1], inW = in[2], sw = s[2], offW = kw * d[2] - p[2];
        int pos = 0;
        while (pos < nb) {
            int len = Math.min(out[2] - ow, nb - pos);
            int id = od * s[0] - p[0] + kd * d[0], ih = oh * s[1] - p[1] + kh * d[1];
            if (id < 0 || id >= in[0] || ih < 0 || ih >= inH) {
                Arrays.fill(dst, pos, pos + len, 0f);
            } else {
                int row = chan + (id * inH + ih) * inW;
                int iw = ow * sw + offW;
                for (int q = 0; q < len; q++, iw += sw) dst[pos + q] = iw >= 0 && iw < inW ? x[row + iw] : 0f;
            }
            pos += len;
            ow = 0;
            if (++oh == out[1]) { oh = 0; od++; }
        }
    }

    static void fillRow(double[] x, int chan, SpatialWindow w, int tap, int j0, int nb, double[] dst) {
        int[] in = w.in(), out = w.out(), k = w.kernel(), s = w.strides(), d = w.dilations(), p = w.padBegin();
        int kw = tap % k[2], kh = (tap / k[2]) % k[1], kd = tap / (k[2] * k[1]);
        int ow = j0 % out[2], oh = (j0 / out[2]) % out[1], od = j0 / (out[2] * out[1]);
        int inH = in[1], inW = in[2], sw = s[2], offW = kw * d[2] - p[2];
        int pos = 0;
        while (pos < nb) {
            int len = Math.min(out[2] - ow, nb - pos);
            int id = od * s[0] - p[0] + kd * d[0], ih = oh * s[1] - p[1] + kh * d[1];
            if (id < 0 || id >= in[0] || ih < 0 || ih >= inH) {
                Arrays.fill(dst, pos, pos + len, 0.0);
            } else {
                int row = chan + (id * inH + ih) * inW;
                int iw = ow * sw + offW;
                for (int q = 0; q < len; q++, iw += sw) dst[pos + q] = iw >= 0 && iw < inW ? x[row + iw] : 0.0;
            }
            pos += len;
            ow = 0;
            if (++oh == out[1]) { oh = 0; od++; }
        }
    }
}

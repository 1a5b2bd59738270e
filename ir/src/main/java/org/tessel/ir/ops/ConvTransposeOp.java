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
 * ONNX ConvTranspose (the gradient of Conv with respect to its input) over 1 to 3 spatial axes.
 *
 * <p>Input position i and kernel tap k land on output position {@code i*stride + k*dilation -
 * pad_begin}. The output size is {@code stride*(in-1) + output_padding + dilated_kernel - pads};
 * with output_shape given, or auto_pad SAME_* (output = in * stride), the pads are derived from
 * the total padding as the ONNX spec says: half (rounded down) at the start for SAME_UPPER, the
 * larger half at the start otherwise. The total may be negative, which extends the output.
 *
 * <p>Evaluation: per image and group one GEMM {@code col[Mg*K, P_in] = W_g^T[Mg*K, Cg] *
 * X_g[Cg, P_in]}, then col2im scatters each column into the output.
 */
public final class ConvTransposeOp extends BaseOp {
    public ConvTransposeOp() {
        super(def("ConvTranspose", "N-D transposed convolution with groups, strides, dilations, padding and output shape")
                .inputs(2, 3, "X", "W", "B")
                .traits(Trait.LAYOUT_SENSITIVE)
                .stringAttr("auto_pad", "NOTSET", "NOTSET, SAME_UPPER, SAME_LOWER or VALID")
                .intsAttr("dilations", "dilation per spatial axis (default 1)")
                .intAttr("group", 1, "number of groups input and output channels are divided into")
                .intsAttr("kernel_shape", "kernel size per spatial axis (default: from W)")
                .intsAttr("output_padding", "extra output elements at the end of each spatial axis (default 0)")
                .intsAttr("output_shape", "spatial output shape; the pads are derived from it")
                .intsAttr("pads", "begin pads per axis, then end pads (default 0)")
                .intsAttr("strides", "stride per spatial axis (default 1)"));
    }

    /**
     * The geometry of one use: {@code window.in()} is the input, {@code window.out()} the output
     * spatial size, {@code window.padBegin()} the shift of the output against the scatter positions.
     */
    record Geometry(int n, int c, int m, int group, SpatialWindow window) {
        int cg() { return c / group; }
        int mg() { return m / group; }
    }

    /**
     * The window of a ConvTranspose as kernels take it, padded to three spatial axes: rows kernel, strides, dilations,
     * begin pads (the output's shift against the scatter positions), input size, output size; then {group, M}.
     * Throws the op's own errors for geometry it refuses.
     */
    public static int[][] window3d(Shape x, Shape w, Attributes a) {
        Geometry g = geometry(x, w, null, a);
        SpatialWindow s = g.window().as3d();
        return new int[][] {s.kernel(), s.strides(), s.dilations(), s.padBegin(), s.in(), s.out(), {g.group(), g.m()}};
    }

    static Geometry geometry(Shape x, Shape w, Shape b, Attributes a) {
        NnSupport.requireImage("X", x);
        if (w.rank() != x.rank())
            throw new OpException("input W must have the rank of X (" + x.rank() + "), got shape " + w);
        long group = a.getInt("group", 1);
        if (group < 1) throw new OpException("attribute 'group' must be at least 1, got " + group);
        int c = x.dim(1), g = Math.toIntExact(group);
        if (w.dim(0) != c)
            throw new OpException("X " + x + " has " + c + " channels, but W " + w + " expects " + w.dim(0) + " (W is [C, M/group, kernel...])");
        if (c % g != 0) throw new OpException("group " + g + " does not divide the " + c + " input channels of X " + x);
        int m = Math.multiplyExact(w.dim(1), g);
        if (b != null && (b.rank() != 1 || b.dim(0) != m))
            throw new OpException("input B must have shape [" + m + "] (one bias per output channel), got " + b);
        int r = x.rank() - 2;
        int[] kernel = NnSupport.spatial(w), in = NnSupport.spatial(x);
        for (int kd : kernel) if (kd < 1) throw new OpException("the spatial dims of W " + w + " (the kernel) must be at least 1");
        long[] ks = a.getInts("kernel_shape");
        if (ks != null && !Arrays.equals(ks, Arrays.stream(kernel).asLongStream().toArray()))
            throw new OpException("attribute 'kernel_shape' " + Arrays.toString(ks) + " does not match the spatial dims of W " + w);
        int[] strides = SpatialWindow.perAxis(a, "strides", r, 1, 1);
        int[] dilations = SpatialWindow.perAxis(a, "dilations", r, 1, 1);
        int[] outPad = SpatialWindow.perAxis(a, "output_padding", r, 0, 0);
        SpatialWindow.AutoPad mode = SpatialWindow.autoPad(a);
        int[][] pads = SpatialWindow.pads(a, r);
        int[] begin = pads[0], end = pads[1], out = new int[r];
        long[] os = a.getInts("output_shape");
        if (os != null && os.length != r && os.length != r + 2)
            throw new OpException("attribute 'output_shape' must have " + r + " values (one per spatial axis), got " + Arrays.toString(os));
        boolean explicitPads = a.has("pads") && mode == SpatialWindow.AutoPad.NOTSET;
        for (int i = 0; i < r; i++) {
            long natural = (long) strides[i] * (in[i] - 1) + outPad[i] + (long) (kernel[i] - 1) * dilations[i] + 1;
            long o;
            if (os != null || mode == SpatialWindow.AutoPad.SAME_UPPER || mode == SpatialWindow.AutoPad.SAME_LOWER) {
                o = os != null ? os[os.length - r + i] : (long) in[i] * strides[i];
                if (!explicitPads) {
                    long total = natural - o;
                    long half = Math.floorDiv(total, 2);
                    begin[i] = Math.toIntExact(mode == SpatialWindow.AutoPad.SAME_UPPER ? half : total - half);
                    end[i] = Math.toIntExact(total - begin[i]);
                }
            } else {
                if (mode == SpatialWindow.AutoPad.VALID) { begin[i] = 0; end[i] = 0; }
                o = natural - begin[i] - end[i];
            }
            if (o <= 0) throw new OpException("spatial axis " + i + " of size " + in[i] + " gives an output of size " + o);
            out[i] = Math.toIntExact(o);
        }
        return new Geometry(x.dim(0), c, m, g, new SpatialWindow(kernel, strides, dilations, begin, end, in, out));
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

    /** Every input element meets every tap of its group's (Mg, kernel) filters once. */
    @Override public long macs(InferenceContext ctx, List<TensorType> outputs) {
        TensorType w = ctx.input(1);
        long perInput = w.shape().numElements() / w.shape().dim(0); // Mg * kernel elements
        return Math.multiplyExact(ctx.input(0).numElements(), perInput);
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0), w = ctx.input(1), b = ctx.hasInput(2) ? ctx.input(2) : null;
        Geometry g = geometry(x.shape(), w.shape(), b == null ? null : b.shape(), ctx.attrs());
        Shape outShape = ctx.outputType(0).shape();
        SpatialWindow win = g.window().as3d();
        int cg = g.cg(), mg = g.mg();
        int kSize = (int) NnSupport.product(win.kernel()), rows = mg * kSize;
        int inP = (int) NnSupport.product(win.in()), outP = (int) NnSupport.product(win.out());
        int yLen = Math.toIntExact(outShape.numElements());
        if (x.dtype() == DType.F64) {
            double[] xs = x.doubles(), ws = w.doubles(), y = new double[yLen], col = new double[rows * inP];
            if (b != null) fillBias(y, b.doubles(), g, outP);
            for (int n = 0; n < g.n(); n++)
                for (int gi = 0; gi < g.group(); gi++) {
                    Arrays.fill(col, 0.0);
                    GemmKernels.dgemm(rows, inP, cg, 1.0, ws, gi * cg * rows, 1, rows,
                            GemmKernels.dense(xs, (n * g.c() + gi * cg) * inP, inP, false), col, 0, inP);
                    col2im(col, win, mg, y, (n * g.m() + gi * mg) * outP);
                }
            return List.of(Tensor.ofDoubles(outShape, y));
        }
        float[] xs = x.floats(), ws = w.floats(), y = new float[yLen], col = new float[rows * inP];
        if (b != null) fillBias(y, b.floats(), g, outP);
        for (int n = 0; n < g.n(); n++)
            for (int gi = 0; gi < g.group(); gi++) {
                Arrays.fill(col, 0f);
                GemmKernels.sgemm(rows, inP, cg, 1f, ws, gi * cg * rows, 1, rows,
                        GemmKernels.dense(xs, (n * g.c() + gi * cg) * inP, inP, false), col, 0, inP);
                col2im(col, win, mg, y, (n * g.m() + gi * mg) * outP);
            }
        return List.of(Tensor.ofFloats(x.dtype(), outShape, y));
    }

    private static void fillBias(float[] y, float[] bias, Geometry g, int outP) {
        for (int n = 0; n < g.n(); n++)
            for (int m = 0; m < g.m(); m++) Arrays.fill(y, (n * g.m() + m) * outP, (n * g.m() + m + 1) * outP, bias[m]);
    }

    private static void fillBias(double[] y, double[] bias, Geometry g, int outP) {
        for (int n = 0; n < g.n(); n++)
            for (int m = 0; m < g.m(); m++) Arrays.fill(y, (n * g.m() + m) * outP, (n * g.m() + m + 1) * outP, bias[m]);
    }

    /** Adds {@code col[(m, tap), input position]} onto the output positions it maps to (3-D window). */
    private static void col2im(float[] col, SpatialWindow w, int mg, float[] y, int yBase) {
        int[] in = w.in(), out = w.out(), k = w.kernel(), s = w.strides(), d = w.dilations(), p = w.padBegin();
        int kSize = k[0] * k[1] * k[2], inP = in[0] * in[1] * in[2], outP = out[0] * out[1] * out[2];
        for (int m = 0; m < mg; m++) {
            int yc = yBase + m * outP;
            for (int tap = 0; tap < kSize; tap++) {
                int kw = tap % k[2], kh = (tap / k[2]) % k[1], kd = tap / (k[2] * k[1]);
                int src = (m * kSize + tap) * inP;
                for (int id = 0; id < in[0]; id++) {
                    int od = id * s[0] + kd * d[0] - p[0];
                    if (od < 0 || od >= out[0]) { src += in[1] * in[2]; continue; }
                    for (int ih = 0; ih < in[1]; ih++) {
                        int oh = ih * s[1] + kh * d[1] - p[1];
                        if (oh < 0 || oh >= out[1]) { src += in[2]; continue; }
                        int row = yc + (od * out[1] + oh) * out[2];
                        int ow = kw * d[2] - p[2];
                        for (int iw = 0; iw < in[2]; iw++, ow += s[2], src++)
                            if (ow >= 0 && ow < out[2]) y[row + ow] += col[src];
                    }
                }
            }
        }
    }

    private static void col2im(double[] col, SpatialWindow w, int mg, double[] y, int yBase) {
        int[] in = w.in(), out = w.out(), k = w.kernel(), s = w.strides(), d = w.dilations(), p = w.padBegin();
        int kSize = k[0] * k[1] * k[2], inP = in[0] * in[1] * in[2], outP = out[0] * out[1] * out[2];
        for (int m = 0; m < mg; m++) {
            int yc = yBase + m * outP;
            for (int tap = 0; tap < kSize; tap++) {
                int kw = tap % k[2], kh = (tap / k[2]) % k[1], kd = tap / (k[2] * k[1]);
                int src = (m * kSize + tap) * inP;
                for (int id = 0; id < in[0]; id++) {
                    int od = id * s[0] + kd * d[0] - p[0];
                    if (od < 0 || od >= out[0]) { src += in[1] * in[2]; continue; }
                    for (int ih = 0; ih < in[1]; ih++) {
                        int oh = ih * s[1] + kh * d[1] - p[1];
                        if (oh < 0 || oh >= out[1]) { src += in[2]; continue; }
                        int row = yc + (od * out[1] + oh) * out[2];
                        int ow = kw * d[2] - p[2];
                        for (int iw = 0; iw < in[2]; iw++, ow += s[2], src++)
                            if (ow >= 0 && ow < out[2]) y[row + ow] += col[src];
                    }
                }
            }
        }
    }
}

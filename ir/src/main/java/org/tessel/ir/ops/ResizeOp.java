package org.tessel.ir.ops;

import java.util.Arrays;
import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;

/**
 * ONNX Resize (opset 19 form): roi, scales and sizes are inputs, scales or sizes a constant.
 * Modes nearest, linear and cubic, all coordinate transformation modes, the four nearest
 * rounding modes, keep_aspect_ratio_policy, exclude_outside, antialias for linear and cubic, and
 * the axes attribute.
 *
 * <p>Every mode is separable, so the resize runs one axis at a time: for each output coordinate
 * of an axis, the source coordinate {@code x} is found by the coordinate transformation, and the
 * taps are the n input positions nearest to x (preferring the lower ones, so the fractional part
 * {@code ratio} lies in (0, 1]) with weights from the mode's kernel. Taps outside the input read
 * the edge value (or get weight 0 and the rest renormalized under exclude_outside). This is the
 * ONNX reference's definition; computing in double and rounding at the end matches it.
 */
public final class ResizeOp extends BaseOp {
    public ResizeOp() {
        super(def("Resize", "resizes the spatial (or any chosen) axes by interpolation")
                .inputs(1, 4, "X", "roi", "scales", "sizes")
                .traits(Trait.LAYOUT_SENSITIVE)
                .intAttr("antialias", 0, "1: widen the linear/cubic kernel when downsampling")
                .intsAttr("axes", "the axes that scales, sizes and roi refer to (default: all)")
                .stringAttr("coordinate_transformation_mode", "half_pixel",
                        "half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric or tf_crop_and_resize")
                .floatAttr("cubic_coeff_a", -0.75f, "the cubic kernel's parameter A")
                .intAttr("exclude_outside", 0, "1: taps outside the input get weight 0")
                .floatAttr("extrapolation_value", 0f, "value outside the roi under tf_crop_and_resize")
                .stringAttr("keep_aspect_ratio_policy", "stretch", "stretch, not_larger or not_smaller (with sizes)")
                .stringAttr("mode", "nearest", "nearest, linear or cubic")
                .stringAttr("nearest_mode", "round_prefer_floor", "round_prefer_floor, round_prefer_ceil, floor or ceil"));
    }

    enum Mode { NEAREST, LINEAR, CUBIC }

    enum Coord { HALF_PIXEL, HALF_PIXEL_SYMMETRIC, PYTORCH_HALF_PIXEL, ALIGN_CORNERS, ASYMMETRIC, TF_CROP_AND_RESIZE }

    enum Nearest { ROUND_PREFER_FLOOR, ROUND_PREFER_CEIL, FLOOR, CEIL }

    /** The checked attributes of one use. */
    record Config(Mode mode, Coord coord, Nearest nearest, boolean antialias, boolean excludeOutside,
                  double cubicA, double extrapolation, String policy) {
        static Config of(Attributes a) {
            Mode mode = switch (a.getString("mode", "nearest")) {
                case "nearest" -> Mode.NEAREST;
                case "linear" -> Mode.LINEAR;
                case "cubic" -> Mode.CUBIC;
                default -> throw new OpException("attribute 'mode' must be nearest, linear or cubic, got '" + a.getString("mode", "") + "'");
            };
            String c = a.getString("coordinate_transformation_mode", "half_pixel");
            Coord coord = switch (c) {
                case "half_pixel" -> Coord.HALF_PIXEL;
                case "half_pixel_symmetric" -> Coord.HALF_PIXEL_SYMMETRIC;
                case "pytorch_half_pixel" -> Coord.PYTORCH_HALF_PIXEL;
                case "align_corners" -> Coord.ALIGN_CORNERS;
                case "asymmetric" -> Coord.ASYMMETRIC;
                case "tf_crop_and_resize" -> Coord.TF_CROP_AND_RESIZE;
                default -> throw new OpException("attribute 'coordinate_transformation_mode' must be half_pixel, half_pixel_symmetric, "
                        + "pytorch_half_pixel, align_corners, asymmetric or tf_crop_and_resize, got '" + c + "'");
            };
            String n = a.getString("nearest_mode", "round_prefer_floor");
            Nearest nearest = switch (n) {
                case "round_prefer_floor" -> Nearest.ROUND_PREFER_FLOOR;
                case "round_prefer_ceil" -> Nearest.ROUND_PREFER_CEIL;
                case "floor" -> Nearest.FLOOR;
                case "ceil" -> Nearest.CEIL;
                default -> throw new OpException("attribute 'nearest_mode' must be round_prefer_floor, round_prefer_ceil, floor or ceil, got '" + n + "'");
            };
            String policy = a.getString("keep_aspect_ratio_policy", "stretch");
            if (!policy.equals("stretch") && !policy.equals("not_larger") && !policy.equals("not_smaller"))
                throw new OpException("attribute 'keep_aspect_ratio_policy' must be stretch, not_larger or not_smaller, got '" + policy + "'");
            long aa = a.getInt("antialias", 0), ex = a.getInt("exclude_outside", 0);
            if (aa != 0 && aa != 1) throw new OpException("attribute 'antialias' must be 0 or 1, got " + aa);
            if (ex != 0 && ex != 1) throw new OpException("attribute 'exclude_outside' must be 0 or 1, got " + ex);
            if (aa == 1 && mode == Mode.NEAREST) throw new OpException("antialias=1 applies to linear and cubic modes only, not nearest");
            return new Config(mode, coord, nearest, aa == 1, ex == 1, a.getFloat("cubic_coeff_a", -0.75f),
                    a.getFloat("extrapolation_value", 0f), policy);
        }
    }

    /** Per axis of X: output size and the scale used by the coordinate transformation. */
    record Plan(int[] axes, int[] outDims, double[] scales) {}

    private static Tensor present(InferenceContext ctx, int i, String what) {
        if (!ctx.hasInput(i)) return null;
        if (ctx.input(i).numElements() == 0) return null; // an empty tensor stands for "not given"
        return ctx.requireConstant(i, what);
    }

    static int[] axes(Attributes a, int rank) {
        long[] ax = a.getInts("axes");
        if (ax == null) {
            int[] all = new int[rank];
            for (int i = 0; i < rank; i++) all[i] = i;
            return all;
        }
        int[] out = new int[ax.length];
        boolean[] seen = new boolean[rank];
        for (int i = 0; i < ax.length; i++) {
            out[i] = OpUtil.axis(ax[i], rank, "axis");
            if (seen[out[i]]) throw new OpException("attribute 'axes' names axis " + out[i] + " twice: " + Arrays.toString(ax));
            seen[out[i]] = true;
        }
        return out;
    }

    static Plan plan(Shape x, Tensor scales, Tensor sizes, Attributes a, String policy) {
        int r = x.rank();
        int[] ax = axes(a, r);
        if ((scales == null) == (sizes == null))
            throw new OpException("exactly one of the inputs scales and sizes must be given (non-empty), got "
                    + (scales == null ? "neither" : "both"));
        int[] out = x.dims();
        double[] sc = new double[r];
        Arrays.fill(sc, 1.0);
        if (scales != null) {
            if (!scales.dtype().isFloating() || scales.rank() != 1 || scales.size() != ax.length)
                throw new OpException("input scales must be a 1-D float tensor of " + ax.length + " values (one per resized axis), got " + scales.type());
            for (int i = 0; i < ax.length; i++) {
                double s = scales.getDouble(i);
                if (!(s > 0)) throw new OpException("input scales must be positive, got " + s + " for axis " + ax[i]);
                sc[ax[i]] = s;
                out[ax[i]] = Math.toIntExact((long) (s * x.dim(ax[i])));
            }
        } else {
            if (!sizes.dtype().isInteger() || sizes.rank() != 1 || sizes.size() != ax.length)
                throw new OpException("input sizes must be a 1-D integer tensor of " + ax.length + " values (one per resized axis), got " + sizes.type());
            for (int i = 0; i < ax.length; i++) {
                long s = sizes.getLong(i);
                if (s <= 0) throw new OpException("input sizes must be positive, got " + s + " for axis " + ax[i]);
                if (x.dim(ax[i]) == 0) throw new OpException("cannot resize axis " + ax[i] + " of size 0 to " + s);
                out[ax[i]] = Math.toIntExact(s);
                sc[ax[i]] = (double) s / x.dim(ax[i]);
            }
            if (!policy.equals("stretch")) {
                double s = policy.equals("not_larger") ? Double.MAX_VALUE : 0;
                for (int d : ax) s = policy.equals("not_larger") ? Math.min(s, sc[d]) : Math.max(s, sc[d]);
                for (int d : ax) {
                    sc[d] = s;
                    out[d] = Math.toIntExact((long) (s * x.dim(d) + 0.5)); // round half up
                }
            }
        }
        for (int d = 0; d < r; d++)
            if (out[d] <= 0 && x.dim(d) > 0) throw new OpException("axis " + d + " of size " + x.dim(d) + " would resize to " + out[d]);
        return new Plan(ax, out, sc);
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0);
        Config cfg = Config.of(ctx.attrs());
        Tensor scales = present(ctx, 2, "scales"), sizes = present(ctx, 3, "sizes");
        Plan p = plan(x.shape(), scales, sizes, ctx.attrs(), cfg.policy());
        if (cfg.coord() == Coord.TF_CROP_AND_RESIZE) {
            if (!ctx.hasInput(1)) throw new OpException("coordinate_transformation_mode tf_crop_and_resize needs the roi input");
            TensorType roi = ctx.input(1);
            if (roi.rank() != 1 || roi.numElements() != 2L * p.axes().length)
                throw new OpException("input roi must be 1-D with " + 2 * p.axes().length + " values (starts then ends of the resized axes), got " + roi.shape());
            if (!roi.dtype().isFloating()) throw new OpException("input roi must be a float tensor, got " + roi.dtype().text());
        }
        return List.of(TensorType.of(x.dtype(), Shape.of(p.outDims())));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0);
        Config cfg = Config.of(ctx.attrs());
        Tensor scales = ctx.hasInput(2) && ctx.input(2).size() > 0 ? ctx.input(2) : null;
        Tensor sizes = ctx.hasInput(3) && ctx.input(3).size() > 0 ? ctx.input(3) : null;
        Plan p = plan(x.shape(), scales, sizes, ctx.attrs(), cfg.policy());
        int r = x.rank();
        double[] roiStart = new double[r], roiEnd = new double[r];
        Arrays.fill(roiEnd, 1.0);
        if (cfg.coord() == Coord.TF_CROP_AND_RESIZE) {
            Tensor roi = ctx.input(1);
            int na = p.axes().length;
            for (int i = 0; i < na; i++) {
                roiStart[p.axes()[i]] = roi.getDouble(i);
                roiEnd[p.axes()[i]] = roi.getDouble(na + i);
            }
        }
        int[] dims = x.shape().dims();
        double[] data = NnSupport.toDoubles(x);
        for (int d = 0; d < r; d++) {
            boolean identity = p.outDims()[d] == dims[d] && p.scales()[d] == 1.0 && cfg.coord() != Coord.TF_CROP_AND_RESIZE;
            if (identity) continue;
            Taps taps = taps(cfg, dims[d], p.outDims()[d], p.scales()[d], roiStart[d], roiEnd[d]);
            data = resizeAxis(data, dims, d, taps, cfg.extrapolation());
            dims[d] = p.outDims()[d];
        }
        return List.of(NnSupport.fromDoubles(x.dtype(), Shape.of(dims), data));
    }

    /** For each output coordinate of one axis: input indices and weights, or null to extrapolate. */
    record Taps(int[][] index, double[][] weight) {}

    static Taps taps(Config cfg, int in, int out, double scale, double roiStart, double roiEnd) {
        int[][] index = new int[out][];
        double[][] weight = new double[out][];
        double outF = scale * in; // the reference's (non-integer) output length
        for (int o = 0; o < out; o++) {
            double xo = switch (cfg.coord()) {
                case HALF_PIXEL -> (o + 0.5) / scale - 0.5;
                case HALF_PIXEL_SYMMETRIC -> {
                    double adjustment = out / outF, offset = in / 2.0 * (1 - adjustment);
                    yield offset + (o + 0.5) / scale - 0.5;
                }
                case PYTORCH_HALF_PIXEL -> outF == 1 ? -0.5 : (o + 0.5) / scale - 0.5;
                case ALIGN_CORNERS -> outF == 1 ? 0 : o * (in - 1) / (outF - 1);
                case ASYMMETRIC -> o / scale;
                case TF_CROP_AND_RESIZE -> (outF == 1 ? (roiEnd - roiStart) * (in - 1) / 2 : o * (roiEnd - roiStart) * (in - 1) / (outF - 1))
                        + roiStart * (in - 1);
            };
            if (cfg.coord() == Coord.TF_CROP_AND_RESIZE && (xo < 0 || xo > in - 1)) continue; // extrapolate
            // base and ratio with ratio in (0, 1]: an integral x counts as the right end of [x-1, x]
            double fl = Math.floor(xo);
            boolean integral = fl == xo;
            long base = integral ? (long) fl - 1 : (long) fl;
            double ratio = integral ? 1.0 : xo - fl;
            double scaleAa = Math.min(scale, 1.0);
            int first;
            double[] w;
            switch (cfg.mode()) {
                case NEAREST -> {
                    first = 0;
                    boolean right = integral || switch (cfg.nearest()) {
                        case ROUND_PREFER_FLOOR -> ratio > 0.5;
                        case ROUND_PREFER_CEIL -> ratio >= 0.5;
                        case FLOOR -> false;
                        case CEIL -> true;
                    };
                    w = right ? new double[] {0, 1} : new double[] {1, 0};
                }
                case LINEAR -> {
                    if (!cfg.antialias()) {
                        first = 0;
                        w = new double[] {1 - ratio, ratio};
                    } else {
                        first = (int) Math.floor(-1 / scaleAa) + 1;
                        w = new double[2 - 2 * first];
                        for (int t = 0; t < w.length; t++) w[t] = Math.clamp(1 - Math.abs((first + t - ratio) * scaleAa), 0.0, 1.0);
                        normalize(w);
                    }
                }
                case CUBIC -> {
                    double a = cfg.cubicA();
                    if (!cfg.antialias()) {
                        first = -1;
                        w = new double[] {cubic(ratio + 1, a), cubic(ratio, a), cubic(1 - ratio, a), cubic(2 - ratio, a)};
                    } else {
                        first = (int) Math.floor(-2 / scaleAa) + 1;
                        w = new double[2 - 2 * first];
                        for (int t = 0; t < w.length; t++) w[t] = cubic(scaleAa * (first + t - ratio), a);
                        normalize(w);
                    }
                }
                default -> throw new IllegalStateException();
            }
            int[] idx = new int[w.length];
            boolean dropped = false;
            for (int t = 0; t < w.length; t++) {
                long i = base + first + t;
                if (i < 0 || i >= in) {
                    if (cfg.excludeOutside()) { w[t] = 0; dropped = true; }
                    i = Math.clamp(i, 0, in - 1);
                }
                idx[t] = (int) i;
            }
            if (dropped) normalize(w);
            index[o] = idx;
            weight[o] = w;
        }
        return new Taps(index, weight);
    }

    /** The cubic convolution kernel with parameter a (Keys), at distance x. */
    static double cubic(double x, double a) {
        x = Math.abs(x);
        if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
        return 0;
    }

    private static void normalize(double[] w) {
        double s = 0;
        for (double v : w) s += v;
        if (s != 0) for (int i = 0; i < w.length; i++) w[i] /= s;
    }

    /** Resizes axis d of a row-major array of shape dims with the given taps. */
    static double[] resizeAxis(double[] in, int[] dims, int d, Taps taps, double extrapolation) {
        int outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= dims[i];
        for (int i = d + 1; i < dims.length; i++) inner *= dims[i];
        int n = dims[d], m = taps.index().length;
        double[] out = new double[outer * m * inner];
        for (int a = 0; a < outer; a++) {
            int src = a * n * inner;
            for (int o = 0; o < m; o++) {
                int dst = (a * m + o) * inner;
                int[] idx = taps.index()[o];
                if (idx == null) {
                    Arrays.fill(out, dst, dst + inner, extrapolation);
                    continue;
                }
                double[] w = taps.weight()[o];
                for (int t = 0; t < idx.length; t++) {
                    double wt = w[t];
                    if (wt == 0) continue;
                    int s = src + idx[t] * inner;
                    for (int j = 0; j < inner; j++) out[dst + j] += wt * in[s + j];
                }
            }
        }
        return out;
    }
}

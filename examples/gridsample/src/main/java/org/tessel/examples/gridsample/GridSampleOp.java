package org.tessel.examples.gridsample;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;

/**
 * ONNX GridSample (opsets 16-22, the 4-D form): samples X [N, C, H, W] at the normalized locations of
 * grid [N, H_out, W_out, 2] ((x, y) in [-1, 1]) into Y [N, C, H_out, W_out], with bilinear, nearest or
 * bicubic interpolation and zeros, border or reflection padding. Tessel has no GridSample; this plugin
 * adds it in ONNX's default domain, so ONNX models that use it import.
 *
 * <p>The reference implementation computes in f32 the way ONNX Runtime's CPU kernel does: locations
 * denormalized ({@code align_corners}: -1 and 1 are the centers of the corner pixels, else their outer
 * edges), padding applied to every pixel a tap reads, nearest rounding half to even, cubic convolution
 * with a = -0.75.
 */
public final class GridSampleOp implements OpSchema {
    /** Interpolation, with the code the CUDA kernel reads. */
    public enum Mode {
        BILINEAR(0), NEAREST(1), BICUBIC(2);
        public final int code;
        Mode(int code) { this.code = code; }
    }

    /** How locations outside the image read, with the code the CUDA kernel reads. */
    public enum Padding {
        ZEROS(0), BORDER(1), REFLECTION(2);
        public final int code;
        Padding(int code) { this.code = code; }
    }

    @Override public String name() { return "GridSample"; }
    @Override public String summary() { return "samples X at grid's normalized (x, y) locations: bilinear, nearest or bicubic; zeros, border or reflection padding (4-D)"; }
    @Override public int minInputs() { return 2; }
    @Override public int maxInputs() { return 2; }
    @Override public List<String> inputNames() { return List.of("X", "grid"); }

    @Override public List<AttrSpec> attributes() {
        return List.of(AttrSpec.optional("align_corners", AttrValue.Kind.INT, AttrValue.of(0L), "1: -1 and 1 are the corner pixels' centers; 0: their outer edges"),
                AttrSpec.optional("mode", AttrValue.Kind.STRING, AttrValue.of("bilinear"), "bilinear (opset 20: linear), nearest, bicubic (opset 20: cubic)"),
                AttrSpec.optional("padding_mode", AttrValue.Kind.STRING, AttrValue.of("zeros"), "zeros, border or reflection"));
    }

    @Override public Set<Trait> traits() { return Set.of(Trait.PURE); }

    public static Mode mode(Attributes a) {
        String m = a.getString("mode", "bilinear");
        return switch (m) {
            case "bilinear", "linear" -> Mode.BILINEAR;
            case "nearest" -> Mode.NEAREST;
            case "bicubic", "cubic" -> Mode.BICUBIC;
            default -> throw new OpException("mode '" + m + "' is not bilinear (linear), nearest or bicubic (cubic)");
        };
    }

    public static Padding padding(Attributes a) {
        String p = a.getString("padding_mode", "zeros");
        return switch (p) {
            case "zeros" -> Padding.ZEROS;
            case "border" -> Padding.BORDER;
            case "reflection" -> Padding.REFLECTION;
            default -> throw new OpException("padding_mode '" + p + "' is not zeros, border or reflection");
        };
    }

    public static boolean alignCorners(Attributes a) {
        long v = a.getInt("align_corners", 0);
        if (v != 0 && v != 1) throw new OpException("align_corners must be 0 or 1, got " + v);
        return v == 1;
    }

    static boolean floating16or32(DType d) { return d == DType.F32 || d == DType.F16 || d == DType.BF16; }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0), grid = ctx.input(1);
        if (x.rank() != 4)
            throw new OpException("X must be 4-D [N, C, H, W] (this plugin implements 4-D GridSample only), got " + x.shape());
        if (grid.rank() != 4 || grid.shape().dim(3) != 2) throw new OpException("grid must be [N, H_out, W_out, 2] for a 4-D X, got " + grid.shape());
        if (grid.shape().dim(0) != x.shape().dim(0))
            throw new OpException("grid's batch " + grid.shape().dim(0) + " differs from X's " + x.shape().dim(0));
        if (!floating16or32(x.dtype()) || !floating16or32(grid.dtype()))
            throw new OpException("X and grid must be f32, f16 or bf16, got " + x.dtype().text() + " and " + grid.dtype().text());
        mode(ctx.attrs());
        padding(ctx.attrs());
        alignCorners(ctx.attrs());
        return List.of(TensorType.of(x.dtype(), Shape.of(x.shape().dim(0), x.shape().dim(1), grid.shape().dim(1), grid.shape().dim(2))));
    }

    /** Taps read per output element (the multiply-adds of one interpolation). */
    @Override public long macs(InferenceContext ctx, List<TensorType> outputs) {
        int taps = switch (mode(ctx.attrs())) { case NEAREST -> 0; case BILINEAR -> 4; case BICUBIC -> 20; };
        return outputs.getFirst().numElements() * taps;
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0), grid = ctx.input(1);
        Tensor y = Tensor.zeros(ctx.outputType(0));
        sample(x, grid, y, mode(ctx.attrs()), padding(ctx.attrs()), alignCorners(ctx.attrs()));
        return List.of(y);
    }

    /** Fills y from x and grid (logical NCHW, any float storage), computing in f32. */
    public static void sample(Tensor x, Tensor grid, Tensor y, Mode mode, Padding pad, boolean align) {
        int n = x.shape().dim(0), c = x.shape().dim(1), h = x.shape().dim(2), w = x.shape().dim(3);
        int ho = grid.shape().dim(1), wo = grid.shape().dim(2);
        float[] border = align ? new float[] {0f, 0f, w - 1f, h - 1f} : new float[] {-0.5f, -0.5f, w - 0.5f, h - 0.5f};
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++) {
                int image = (b * c + ch) * h * w;
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++) {
                        int g = ((b * ho + oy) * wo + ox) * 2;
                        float fx = denormalize(grid.getFloat(g), w, align), fy = denormalize(grid.getFloat(g + 1), h, align);
                        float v = switch (mode) {
                            case NEAREST -> pixel(x, image, (long) Math.rint(fy), (long) Math.rint(fx), h, w, pad, border);
                            case BILINEAR -> {
                                long x1 = (long) Math.floor(fx), y1 = (long) Math.floor(fy), x2 = x1 + 1, y2 = y1 + 1;
                                float p11 = pixel(x, image, y1, x1, h, w, pad, border), p12 = pixel(x, image, y1, x2, h, w, pad, border);
                                float p21 = pixel(x, image, y2, x1, h, w, pad, border), p22 = pixel(x, image, y2, x2, h, w, pad, border);
                                float dx2 = x2 - fx, dx1 = fx - x1, dy2 = y2 - fy, dy1 = fy - y1;
                                yield dy2 * (dx2 * p11 + dx1 * p12) + dy1 * (dx2 * p21 + dx1 * p22);
                            }
                            case BICUBIC -> {
                                long x0 = (long) Math.floor(fx) - 1, y0 = (long) Math.floor(fy) - 1;
                                float[] rows = new float[4], cx = cubic(fx - x0 - 1), cy = cubic(fy - y0 - 1);
                                for (int i = 0; i < 4; i++) {
                                    float r = 0;
                                    for (int j = 0; j < 4; j++) r += cx[j] * pixel(x, image, y0 + i, x0 + j, h, w, pad, border);
                                    rows[i] = r;
                                }
                                yield cy[0] * rows[0] + cy[1] * rows[1] + cy[2] * rows[2] + cy[3] * rows[3];
                            }
                        };
                        y.setDouble(((b * c + ch) * ho + oy) * wo + ox, v);
                    }
            }
    }

    /** A normalized location in [-1, 1] as a pixel coordinate. */
    static float denormalize(float v, int length, boolean align) {
        return align ? (v + 1) / 2f * (length - 1) : ((v + 1) * length - 1) / 2f;
    }

    /** Reflects x off the borders [lo, hi] until it lies within them. */
    static float reflect(float x, float lo, float hi) {
        float range = hi - lo;
        if (range <= 0) return lo;
        if (x < lo) {
            float d = lo - x;
            int k = (int) (d / range);
            float r = d - k * range;
            return k % 2 == 0 ? lo + r : hi - r;
        }
        if (x > hi) {
            float d = x - hi;
            int k = (int) (d / range);
            float r = d - k * range;
            return k % 2 == 0 ? hi - r : lo + r;
        }
        return x;
    }

    /** The pixel (r, c) of one image plane, padded: 0 outside (zeros), the nearest edge pixel (border), or reflected. */
    static float pixel(Tensor x, int image, long r, long c, int h, int w, Padding pad, float[] border) {
        switch (pad) {
            case ZEROS -> { if (c < 0 || c >= w || r < 0 || r >= h) return 0f; }
            case BORDER -> { c = Math.clamp(c, 0, w - 1); r = Math.clamp(r, 0, h - 1); }
            case REFLECTION -> {
                c = (long) reflect(c, border[0], border[2]);
                r = (long) reflect(r, border[1], border[3]);
                c = Math.clamp(c, 0, w - 1); // a reflected location rounds inward; clamping only guards the degenerate 1-pixel case
                r = Math.clamp(r, 0, h - 1);
            }
        }
        return x.getFloat(image + (int) r * w + (int) c);
    }

    /** Cubic convolution weights (a = -0.75) of the four taps around a point at fraction t past the second. */
    static float[] cubic(float t) {
        final float a = -0.75f;
        float x = Math.abs(t);
        return new float[] {
            ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a,
            ((a + 2) * x - (a + 3)) * x * x + 1,
            ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1,
            ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a};
    }

    @Override public String toString() { return name().toLowerCase(Locale.ROOT); }
}

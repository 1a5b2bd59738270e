package org.tessel.runtime.gpu.engine;

import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.MoreKernels;

/**
 * GPU engine layers for catalogue tactics outside the CNN and transformer families:
 * <ul>
 *   <li>Resize ({@code tessel.resize}): rank 4, NCHW or NHWC, H and W only; mode nearest (any
 *       nearest_mode) or linear (no antialias, exclude_outside 0), coordinate modes half_pixel,
 *       pytorch_half_pixel, half_pixel_symmetric, align_corners, asymmetric; scales or sizes
 *       constant. The taps are computed on the host exactly as the reference (ResizeOp) does.</li>
 *   <li>Every Reduce* op ({@code tessel.reduce}) of floating data (integers exactly in the kinds the reference
 *       computes exactly, bool in Max and Min), any axes, keepdims and
 *       noop_with_empty_axes: one contiguous run of axes (size-1 axes in between allowed) as [outer, R,
 *       inner], any other set through a per-axis table; empty reductions give the kind's identity;
 *       ReduceMean over {2, 3} of a rank-4 tensor stays a global average pool ({@link PoolLayers}).</li>
 *   <li>BatchNormalization ({@code tessel.batchnorm}), inference form, NCHW or NHWC: the per-channel
 *       affine a = scale / sqrt(var + eps), b = bias - mean * a folded on the host in double.</li>
 * </ul>
 */
final class MoreLayers {
    /** The reductions of {@link ReduceResizeLayers}: every ONNX Reduce* op. */
    static final Set<String> REDUCE_OPS = java.util.Arrays.stream(MoreKernels.ReduceOp.values()).map(MoreKernels.ReduceOp::onnxOp)
            .collect(java.util.stream.Collectors.toUnmodifiableSet());
    private MoreLayers() {}

    // ---- Resize ---------------------------------------------------------------------------

    private static Tensor constantInput(Node n, int i, String what) {
        if (n.numInputs() <= i || n.input(i) == null) return null;
        Value v = n.input(i);
        if (v.type().numElements() == 0) return null; // an empty tensor stands for "not given"
        if (v.constantValue() == null) throw GpuEngineException.unsupported(n, "Resize " + what + " %" + v.name() + " is not a constant");
        return v.constantValue();
    }

    /** A checked Resize: input dims [n, c, h, w], output h and w, the tap table (H then W), the mode and layout. */
    record ResizePlan(int[] in, int oh, int ow, int[] table, boolean nearest, boolean nhwc) {}

    static Layout layoutOf(Value v) { return v.type().layout() == Layout.NHWC ? Layout.NHWC : Layout.NCHW; }

    /** Checks a Resize node (no GPU needed) and computes its taps; throws naming the node when the kernel does not cover it. */
    static ResizePlan resizePlan(Node n) {
        Value x = n.input(0), y = n.output();
        int[] d = x.type().shape().dims(), o = y.type().shape().dims();
        if (d.length != 4) throw GpuEngineException.unsupported(n, "Resize of a rank-" + d.length + " tensor " + x.type().shape() + " (supported: rank 4)");
        Attributes a = n.attrs();
        String mode = a.getString("mode", "nearest");
        if (!mode.equals("nearest") && !mode.equals("linear")) throw GpuEngineException.unsupported(n, "Resize mode '" + mode + "' (supported: nearest, linear)");
        boolean nearest = mode.equals("nearest");
        String coord = a.getString("coordinate_transformation_mode", "half_pixel");
        if (!Set.of("half_pixel", "pytorch_half_pixel", "half_pixel_symmetric", "align_corners", "asymmetric").contains(coord))
            throw GpuEngineException.unsupported(n, "Resize coordinate_transformation_mode '" + coord + "' (supported: half_pixel, pytorch_half_pixel, half_pixel_symmetric, align_corners, asymmetric)");
        String nm = a.getString("nearest_mode", "round_prefer_floor");
        if (!Set.of("round_prefer_floor", "round_prefer_ceil", "floor", "ceil").contains(nm)) throw GpuEngineException.unsupported(n, "Resize nearest_mode '" + nm + "'");
        if (a.getInt("antialias", 0) != 0) throw GpuEngineException.unsupported(n, "Resize with antialias=1");
        if (a.getInt("exclude_outside", 0) != 0) throw GpuEngineException.unsupported(n, "Resize with exclude_outside=1");
        String policy = a.getString("keep_aspect_ratio_policy", "stretch");
        // per-axis scale, as ResizeOp.plan computes it
        int[] axes;
        long[] ax = a.getInts("axes");
        if (ax == null) axes = new int[] {0, 1, 2, 3};
        else {
            axes = new int[ax.length];
            for (int i = 0; i < ax.length; i++) axes[i] = (int) (ax[i] < 0 ? ax[i] + 4 : ax[i]);
        }
        Tensor scales = constantInput(n, 2, "scales"), sizes = constantInput(n, 3, "sizes");
        if ((scales == null) == (sizes == null)) throw GpuEngineException.unsupported(n, "Resize needs exactly one of scales and sizes as a non-empty constant");
        double[] sc = new double[4];
        Arrays.fill(sc, 1.0);
        for (int i = 0; i < axes.length; i++) {
            if (scales != null) sc[axes[i]] = scales.getDouble(i);
            else sc[axes[i]] = (double) sizes.getLong(i) / d[axes[i]];
        }
        if (sizes != null && !policy.equals("stretch")) {
            double s = policy.equals("not_larger") ? Double.MAX_VALUE : 0;
            for (int dd : axes) s = policy.equals("not_larger") ? Math.min(s, sc[dd]) : Math.max(s, sc[dd]);
            for (int dd : axes) sc[dd] = s;
        }
        for (int i = 0; i < 2; i++)
            if (o[i] != d[i] || sc[i] != 1.0)
                throw GpuEngineException.unsupported(n, "Resize of axis " + i + " (scale " + sc[i] + ", " + d[i] + " -> " + o[i] + "; supported: H and W only)");
        Layout layout = layoutOf(x);
        if (layoutOf(y) != layout) throw GpuEngineException.unsupported(n, "Resize input " + layout.text() + ", output " + layoutOf(y).text());
        int[] th = taps(d[2], o[2], sc[2], coord, nm, nearest), tw = taps(d[3], o[3], sc[3], coord, nm, nearest);
        int[] table = new int[th.length + tw.length];
        System.arraycopy(th, 0, table, 0, th.length);
        System.arraycopy(tw, 0, table, th.length, tw.length);
        return new ResizePlan(d, o[2], o[3], table, nearest, layout == Layout.NHWC);
    }

    static Layer resize(LayerContext e, Node n) {
        ResizePlan rp = resizePlan(n);
        Value x = n.input(0), y = n.output();
        DeviceBuffer tb = e.shared(y, "resize:taps", () -> {
            DeviceBuffer b = DeviceBuffer.allocate(4L * rp.table().length);
            b.copyFrom(rp.table());
            return b;
        });
        DeviceBuffer xb = e.activation(x), yb = e.activation(y);
        DType t = e.storage();
        int[] d = rp.in();
        return new Layer() {
            @Override public LayerPlan plan() { return e.plan(n, GpuTactics.RESIZE, y); }
            @Override public void enqueue(CudaStream s) { MoreKernels.resize(e.kernels(), t, xb, yb, tb, d[0], d[1], d[2], d[3], rp.oh(), rp.ow(), rp.nhwc(), rp.nearest(), s); }
        };
    }

    /**
     * One axis's taps, as ints: first index[out], second index[out], weight of the second (float bits)[out].
     * The coordinate arithmetic is ResizeOp's (double), so nearest picks the reference's indices.
     */
    static int[] taps(int in, int out, double scale, String coord, String nearestMode, boolean nearest) {
        int[] t = new int[3 * out];
        boolean identity = out == in && scale == 1.0;
        double outF = scale * in;
        for (int o = 0; o < out; o++) {
            if (identity) { t[o] = o; t[out + o] = o; continue; }
            double xo = switch (coord) {
                case "half_pixel" -> (o + 0.5) / scale - 0.5;
                case "half_pixel_symmetric" -> {
                    double adjustment = out / outF, offset = in / 2.0 * (1 - adjustment);
                    yield offset + (o + 0.5) / scale - 0.5;
                }
                case "pytorch_half_pixel" -> outF == 1 ? -0.5 : (o + 0.5) / scale - 0.5;
                case "align_corners" -> outF == 1 ? 0 : o * (in - 1) / (outF - 1);
                case "asymmetric" -> o / scale;
                default -> throw new IllegalArgumentException("coordinate mode " + coord);
            };
            double fl = Math.floor(xo);
            boolean integral = fl == xo;
            long base = integral ? (long) fl - 1 : (long) fl;
            double ratio = integral ? 1.0 : xo - fl;
            int i0 = Math.clamp(base, 0, in - 1), i1 = Math.clamp(base + 1, 0, in - 1);
            if (nearest) {
                boolean right = integral || switch (nearestMode) {
                    case "round_prefer_floor" -> ratio > 0.5;
                    case "round_prefer_ceil" -> ratio >= 0.5;
                    case "floor" -> false;
                    default -> true; // ceil
                };
                t[o] = right ? i1 : i0;
                t[out + o] = t[o];
            } else {
                t[o] = i0;
                t[out + o] = i1;
                t[2 * out + o] = Float.floatToRawIntBits((float) ratio);
            }
        }
        return t;
    }

    // ---- Reduce ---------------------------------------------------------------------------

    /**
     * A checked reduction as [outer, red, inner] over one contiguous run of axes, or, when {@code dims} is not null,
     * over the axes {@code reduced} marks of a tensor with extents {@code dims} (the strided kernel); {@code globalPool}:
     * ReduceMean over {2, 3} of a rank-4 tensor, left to the pool kernel.
     */
    record ReducePlan(MoreKernels.ReduceOp op, long outer, long red, long inner, boolean globalPool, int[] dims, boolean[] reduced) {
        boolean strided() { return dims != null; }
    }

    /** Checks a Reduce* node (no GPU needed); throws naming the node when the kernels do not cover it. */
    static ReducePlan reducePlan(Node n) { return reducePlan(n, true); }

    /** As above; {@code poolForm}: a ReduceMean over {2, 3} of a rank-4 tensor is reported as the global average pool ({@code tessel.pool.global}) rather than planned as a reduction. */
    static ReducePlan reducePlan(Node n, boolean poolForm) {
        Value x = n.input(0), y = n.output();
        int[] d = x.type().shape().dims();
        int r = d.length;
        MoreKernels.ReduceOp op = MoreKernels.ReduceOp.of(n.opName());
        if (op == null || n.body() != null) throw GpuEngineException.unsupported(n, "op " + n.opName() + " is not a reduction (" + String.join(", ", new TreeSet<>(REDUCE_OPS)) + ")");
        // integers (i32 on the device) and bool (bytes) take the exact 64-bit kernel, for the kinds the reference computes exactly
        DType dt = x.type().dtype();
        boolean exact = !dt.isFloating();
        if (dt == DType.BOOL ? op != MoreKernels.ReduceOp.MAX && op != MoreKernels.ReduceOp.MIN
                : dt.isInteger() ? !MoreKernels.INTEGER_KINDS.contains(op) : !dt.isFloating())
            throw GpuEngineException.unsupported(n, n.opName() + " of " + dt.text() + " data %" + x.name()
                    + " (supported: floating data; integers in ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceSumSquare, ReduceL1; bool in ReduceMax, ReduceMin)");
        long[] axes = n.attrs().has("axes") ? n.attrs().getInts("axes") : null;
        if (axes == null && n.numInputs() > 1 && n.input(1) != null) {
            Value av = n.input(1);
            if (av.constantValue() == null) throw GpuEngineException.unsupported(n, n.opName() + " axes %" + av.name() + " are not a constant");
            axes = new long[(int) av.type().numElements()];
            for (int i = 0; i < axes.length; i++) axes[i] = av.constantValue().getLong(i);
        }
        TreeSet<Integer> set = new TreeSet<>();
        if (axes == null || axes.length == 0) {
            if (n.attrs().getInt("noop_with_empty_axes", 0) == 0) for (int i = 0; i < r; i++) set.add(i);
        } else {
            for (long a : axes) set.add(Operands.axis(n, a, r));
        }
        // ReduceMean over the spatial axes of a rank-4 tensor: the global average pool, as before
        if (poolForm && op == MoreKernels.ReduceOp.MEAN && r == 4 && set.equals(new TreeSet<>(Set.of(2, 3)))) return new ReducePlan(op, 0, 0, 0, true, null, null);
        if (r >= 3 && layoutOf(x) == Layout.NHWC) throw GpuEngineException.unsupported(n, n.opName() + " of an nhwc tensor (supported: channels-first, as assign-layouts leaves reductions)");
        long outer = 1, red = 1, inner = 1;
        if (!set.isEmpty()) {
            int lo = set.first(), hi = set.last();
            boolean contiguous = true;
            for (int i = lo; i <= hi; i++) if (!set.contains(i) && d[i] != 1) contiguous = false;
            if (!contiguous || exact) {
                boolean[] reduced = new boolean[r];
                for (int a : set) reduced[a] = true;
                long kept = 1;
                for (int i = 0; i < r; i++) if (!reduced[i]) kept *= d[i];
                if (y.type().numElements() != kept) throw GpuEngineException.unsupported(n, "output " + y.type().shape() + " does not hold " + kept + " elements");
                ReducePlan p = new ReducePlan(op, 0, 0, 0, false, d.clone(), reduced);
                if (exact && reducedCount(p) == 0 && kept > 0 && identity(op, dt) != (int) identity(op, dt))
                    throw GpuEngineException.unsupported(n, "an empty " + n.opName() + " of " + dt.text() + " data: its identity " + identity(op, dt)
                            + " does not fit the device's i32 integers");
                return p;
            }
            for (int i = 0; i < r; i++) {
                if (i < lo) outer *= d[i];
                else if (i > hi) inner *= d[i];
                else red *= d[i];
            }
        } else {
            // noop_with_empty_axes: the identity for every kind (the reference copies x), a sum over one element each
            for (int dd : d) outer *= dd;
            op = MoreKernels.ReduceOp.SUM;
            if (exact) return new ReducePlan(op, 0, 0, 0, false, d.clone(), new boolean[r]);
        }
        if (y.type().numElements() != outer * inner) throw GpuEngineException.unsupported(n, "output " + y.type().shape() + " does not hold " + outer * inner + " elements");
        return new ReducePlan(op, outer, red, inner, false, null, null);
    }

    static Layer reduce(LayerContext e, Node n) {
        ReducePlan rp = reducePlan(n, false);
        Value x = n.input(0), y = n.output();
        DeviceBuffer xb = e.activation(x), yb = e.activation(y);
        DType t = e.storage();
        long r = rp.strided() ? reducedCount(rp) : rp.red();
        DType dt = x.type().dtype();
        if (r == 0 && !dt.isFloating()) {
            // an empty integer or bool reduction is the reference's identity for the type (an empty bool maximum is false): a fill
            long bits = WindowLayers.bits(n, org.tessel.api.Tensor.ofLongs(DType.I64, org.tessel.api.Shape.scalar(), identity(rp.op(), dt)), dt, t);
            long total = y.type().numElements();
            int eb = WindowLayers.elementBytes(y, t);
            return Operands.layer(e, n, GpuTactics.REDUCE, y, s -> org.tessel.runtime.gpu.kernels.DataMoveKernels.fill(e.kernels(), eb, yb, total, bits, s));
        }
        if (!dt.isFloating()) {
            DeviceBuffer tb = e.shared(y, "reduce:table", () -> WindowLayers.longs(MoreKernels.stridedReduceTable(rp.dims(), rp.reduced())));
            boolean bool = dt == DType.BOOL;
            return Operands.layer(e, n, GpuTactics.REDUCE, y, s -> MoreKernels.reduceStridedExact(e.kernels(), t, rp.op(), xb, yb, tb, rp.dims(), rp.reduced(), bool, s));
        }
        if (rp.strided()) {
            DeviceBuffer tb = e.shared(y, "reduce:table", () -> WindowLayers.longs(MoreKernels.stridedReduceTable(rp.dims(), rp.reduced())));
            return Operands.layer(e, n, GpuTactics.REDUCE, y, s -> MoreKernels.reduceStrided(e.kernels(), t, rp.op(), xb, yb, tb, rp.dims(), rp.reduced(), s));
        }
        return new Layer() {
            @Override public LayerPlan plan() { return e.plan(n, GpuTactics.REDUCE, y); }
            @Override public void enqueue(CudaStream s) { MoreKernels.reduce(e.kernels(), t, rp.op(), xb, yb, rp.outer(), rp.red(), rp.inner(), s); }
        };
    }

    /** The reference's result of an empty integer (or bool) reduction: the type's lowest value for Max, highest for Min, 1 for Prod, else 0. */
    static long identity(MoreKernels.ReduceOp op, DType t) {
        return switch (op) {
            case MAX -> switch (t) { case I8 -> Byte.MIN_VALUE; case I32 -> Integer.MIN_VALUE; case I64 -> Long.MIN_VALUE; default -> 0; };
            case MIN -> switch (t) { case I8 -> Byte.MAX_VALUE; case U8 -> 255; case I32 -> Integer.MAX_VALUE; case BOOL -> 1; default -> Long.MAX_VALUE; };
            case PROD -> 1;
            default -> 0;
        };
    }

    /** The elements each output of a strided reduction folds. */
    static long reducedCount(ReducePlan rp) {
        long r = 1;
        for (int i = 0; i < rp.dims().length; i++) if (rp.reduced()[i]) r *= rp.dims()[i];
        return r;
    }

    // ---- BatchNormalization ---------------------------------------------------------------

    /** A checked BatchNormalization: per-channel a then b (f32, 2*c values), [n, c, inner] and the layout. */
    record BatchNormPlan(float[] affine, long batch, int c, long inner, boolean nhwc) {}

    /** Checks a BatchNormalization node of graph {@code g} (no GPU needed) and folds its affine; throws naming the node. */
    static BatchNormPlan batchnormPlan(org.tessel.ir.Graph g, Node n) {
        Value x = n.input(0), y = n.output();
        int[] d = x.type().shape().dims();
        if (d.length < 2 || d[1] < 1) throw GpuEngineException.unsupported(n, "BatchNormalization of " + x.type().shape() + " (needs [N, C, ...] with C > 0)");
        if (n.attrs().getInt("training_mode", 0) != 0) throw GpuEngineException.unsupported(n, "BatchNormalization with training_mode=1");
        for (int i = 1; i < n.outputs().size(); i++)
            if (!g.users(n.output(i)).isEmpty()) throw GpuEngineException.unsupported(n, "BatchNormalization running-statistics output is used");
        String[] names = {"scale", "B", "input_mean", "input_var"};
        Tensor[] p = new Tensor[4];
        for (int i = 0; i < 4; i++) {
            Value v = n.numInputs() > i + 1 ? n.input(i + 1) : null;
            if (v == null || v.constantValue() == null) throw GpuEngineException.unsupported(n, "BatchNormalization " + names[i] + (v == null ? " is missing" : " %" + v.name() + " is not a constant"));
            if (v.type().numElements() != d[1]) throw GpuEngineException.unsupported(n, "BatchNormalization " + names[i] + " has " + v.type().numElements() + " values, X has " + d[1] + " channels");
            p[i] = v.constantValue();
        }
        double eps = n.attrs().getFloat("epsilon", 1e-5f);
        int c = d[1];
        float[] ab = new float[2 * c];
        for (int ch = 0; ch < c; ch++) {
            double s = p[0].getDouble(ch) / Math.sqrt(p[3].getDouble(ch) + eps);
            ab[ch] = (float) s;
            ab[c + ch] = (float) (p[1].getDouble(ch) - p[2].getDouble(ch) * s);
        }
        Layout layout = layoutOf(x);
        if (d.length >= 3 && layoutOf(y) != layout) throw GpuEngineException.unsupported(n, "BatchNormalization input " + layout.text() + ", output " + layoutOf(y).text());
        long inner = x.type().numElements() / ((long) d[0] * c);
        return new BatchNormPlan(ab, d[0], c, inner, d.length >= 3 && layout == Layout.NHWC);
    }

    static Layer batchnorm(LayerContext e, Node n) {
        BatchNormPlan bp = batchnormPlan(e.graph(), n);
        Value x = n.input(0), y = n.output();
        int c = bp.c();
        DeviceBuffer tab = e.shared(y, "batchnorm:affine", () -> DeviceBuffer.ofFloats(bp.affine()));
        DeviceBuffer ta = tab.slice(0, 4L * c), tb = tab.slice(4L * c, 4L * c);
        DeviceBuffer xb = e.activation(x), yb = e.activation(y);
        DType t = e.storage();
        return new Layer() {
            @Override public LayerPlan plan() { return e.plan(n, GpuTactics.BATCHNORM, y); }
            @Override public void enqueue(CudaStream s) { MoreKernels.batchnorm(e.kernels(), t, xb, yb, ta, tb, bp.batch(), c, bp.inner(), bp.nhwc(), s); }
        };
    }
}

package org.tessel.ir.ops;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
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
 * Ops that generate, mask, scan, rank or scatter elements by index (ONNX opset 18-26 semantics): Range, Trilu, CumSum,
 * CumProd, OneHot, TopK, ScatterElements and ScatterND. The references compute in double (floating data, rounded once
 * into the element type) or exactly in 64 bits (integers, wrapped as C does), moving elements in flat order.
 */
public final class IndexOps {
    private IndexOps() {}

    static List<OpSchema> all() {
        return List.of(new Range(), new Trilu(), new Cumulative(false), new Cumulative(true), new OneHot(), new TopK(),
                new ScatterElements(), new ScatterND());
    }

    private static final DType[] INDEX_TYPES = {DType.I32, DType.I64};

    /** The one value of a scalar-like input (rank 0, or one element); fails naming it. */
    private static Tensor scalar(Tensor t, String what) {
        if (t.size() != 1 || t.rank() > 1) throw new OpException(what + " must be a scalar (one element), got shape " + t.shape());
        return t;
    }

    private static boolean integral(DType t) { return t.storage() == DType.Storage.LONG; }

    /** Output element i of a Range: start + i * delta, exact in 64 bits for integers (wrapped into the type). */
    public static final class Range extends BaseOp {
        static final Set<DType> TYPES = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64, DType.I32, DType.I64);

        Range() {
            super(def("Range", "start, start + delta, ... up to (not including) limit: max(ceil((limit - start) / delta), 0) elements")
                    .inputs(3, 3, "start", "limit", "delta"));
        }

        /** The number of elements of a Range over these scalars; fails on a zero delta, a non-finite bound or too many elements. */
        public static long count(Tensor start, Tensor limit, Tensor delta) {
            scalar(start, "start");
            scalar(limit, "limit");
            scalar(delta, "delta");
            double n;
            if (integral(start.dtype())) {
                long s = start.getLong(0), l = limit.getLong(0), d = delta.getLong(0);
                if (d == 0) throw new OpException("delta must not be 0");
                // exact: ceil((l - s) / d) for the sign of d, in double only past 2^53 (then refused as too many anyway)
                double span = (double) l - (double) s;
                if (Math.abs(span) < 0x1p53) {
                    long diff = l - s;
                    n = d > 0 ? (diff > 0 ? (diff + d - 1) / d : 0) : (diff < 0 ? (-diff + -d - 1) / -d : 0);
                } else n = Math.ceil(span / d);
            } else {
                double s = start.getDouble(0), l = limit.getDouble(0), d = delta.getDouble(0);
                if (d == 0 || Double.isNaN(d)) throw new OpException("delta must be a non-zero number, got " + d);
                if (!Double.isFinite(s) || !Double.isFinite(l)) throw new OpException("start " + s + " and limit " + l + " must be finite");
                n = Math.ceil((l - s) / d);
            }
            if (n <= 0) return 0;
            if (n > Shape.MAX_ELEMENTS) throw new OpException("the range from " + start.getDouble(0) + " to " + limit.getDouble(0) + " by "
                    + delta.getDouble(0) + " would have " + (long) n + " elements (at most " + Shape.MAX_ELEMENTS + " are supported)");
            return (long) n;
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            DType t = ctx.input(0).dtype();
            DTypeSets.require("start", t, TYPES);
            OpUtil.requireSameDType("limit and start", ctx.input(1).dtype(), t);
            OpUtil.requireSameDType("delta and start", ctx.input(2).dtype(), t);
            for (int i = 0; i < 3; i++)
                if (ctx.input(i).numElements() != 1 || ctx.input(i).rank() > 1)
                    throw new OpException(inputNames().get(i) + " must be a scalar (one element), got shape " + ctx.input(i).shape());
            long n = count(ctx.requireConstant(0, "start"), ctx.requireConstant(1, "limit"), ctx.requireConstant(2, "delta"));
            return List.of(TensorType.of(t, Shape.of(n)));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor out = Tensor.zeros(ctx.outputType(0));
            Tensor s = ctx.input(0), d = ctx.input(2);
            if (integral(out.dtype())) for (int i = 0; i < out.size(); i++) out.setLong(i, s.getLong(0) + i * d.getLong(0));
            else for (int i = 0; i < out.size(); i++) out.setDouble(i, s.getDouble(0) + i * d.getDouble(0));
            return OpUtil.one(out);
        }
    }

    /** Trilu's diagonal offset k (default 0) from its optional input; fails unless it is one integer. */
    public static long triluK(Tensor k) {
        if (k == null) return 0;
        ShapeOps.requireDType("k", k.dtype(), DType.I64);
        return scalar(k, "k").getLong(0);
    }

    /** Keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two axes; the rest becomes 0. */
    public static final class Trilu extends BaseOp {
        Trilu() {
            super(def("Trilu", "keeps the upper (j - i >= k) or lower (j - i <= k) triangle of each matrix in the last two axes, zeroes the rest")
                    .inputs(1, 2, "input", "k").intAttr("upper", 1, "1 keeps the upper triangle, 0 the lower")
                    .traits(Trait.DATA_MOVEMENT));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            if (x.rank() < 2) throw new OpException("input must have rank >= 2, got shape " + x.shape());
            if (ctx.hasInput(1)) {
                ShapeOps.requireDType("k", ctx.input(1).dtype(), DType.I64);
                if (ctx.input(1).numElements() != 1 || ctx.input(1).rank() > 1) throw new OpException("k must be a scalar (one element), got shape " + ctx.input(1).shape());
            }
            return List.of(x);
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0), out = x.copy();
            long k = triluK(ctx.hasInput(1) ? ctx.input(1) : null);
            boolean upper = ctx.attrs().getInt("upper", 1) != 0;
            int rows = x.shape().dim(-2), cols = x.shape().dim(-1);
            for (int i = 0; i < out.size(); i++) {
                long r = (i / cols) % rows, c = i % cols;
                if (upper ? c - r < k : c - r > k) out.setLong(i, 0);
            }
            return OpUtil.one(out);
        }
    }

    /** The axis of a CumSum / CumProd from its axis input (i32 or i64, one element), normalized against {@code rank}. */
    public static int cumulativeAxis(Tensor axis, int rank) {
        ShapeOps.requireDType("axis", axis.dtype(), INDEX_TYPES);
        return OpUtil.axis(scalar(axis, "axis").getLong(0), rank, "axis");
    }

    /** CumSum (opset 14) and CumProd (opset 26): running sums or products along one axis, exclusive and/or reversed. */
    public static final class Cumulative extends BaseOp {
        static final Set<DType> TYPES = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64, DType.I32, DType.I64);
        private final boolean product;

        Cumulative(boolean product) {
            super(def(product ? "CumProd" : "CumSum", "running " + (product ? "product" : "sum") + " along the axis input")
                    .inputs(2, 2, "x", "axis")
                    .intAttr("exclusive", 0, "1 leaves the current element out of its own result (the first result is the identity)")
                    .intAttr("reverse", 0, "1 runs from the end of the axis to its start"));
            this.product = product;
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            DTypeSets.require("input x", x.dtype(), TYPES);
            if (x.rank() == 0) throw new OpException("input x must have rank >= 1, got a scalar");
            ShapeOps.requireDType("axis", ctx.input(1).dtype(), INDEX_TYPES);
            Tensor a = ctx.constant(1);
            if (a != null) cumulativeAxis(a, x.rank());
            else if (ctx.input(1).numElements() != 1) throw new OpException("axis must be a scalar (one element), got shape " + ctx.input(1).shape());
            return List.of(x);
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0), out = Tensor.zeros(x.type());
            Shape s = x.shape();
            int axis = cumulativeAxis(ctx.input(1), s.rank());
            boolean exclusive = ctx.attrs().getInt("exclusive", 0) != 0, reverse = ctx.attrs().getInt("reverse", 0) != 0;
            int len = s.dim(axis), inner = ShapeOps.product(s, axis + 1, s.rank()), outer = ShapeOps.product(s, 0, axis);
            boolean ints = integral(x.dtype());
            for (int o = 0; o < outer; o++)
                for (int in = 0; in < inner; in++) {
                    long la = product ? 1 : 0;
                    double da = product ? 1 : 0;
                    for (int step = 0; step < len; step++) {
                        int j = reverse ? len - 1 - step : step, i = (o * len + j) * inner + in;
                        if (ints) {
                            long v = x.getLong(i);
                            if (exclusive) out.setLong(i, la);
                            la = product ? la * v : la + v;
                            if (!exclusive) out.setLong(i, la);
                        } else {
                            double v = x.getDouble(i);
                            if (exclusive) out.setDouble(i, da);
                            da = product ? da * v : da + v;
                            if (!exclusive) out.setDouble(i, da);
                        }
                    }
                }
            return OpUtil.one(out);
        }
    }

    /** OneHot's depth from its input (any numeric type, one element; a fraction truncates); fails unless it is at least 1. */
    public static int oneHotDepth(Tensor depth) {
        DTypeSets.require("depth", depth.dtype(), DTypeSets.NUMERIC);
        double d = scalar(depth, "depth").getDouble(0);
        if (!(d >= 1) || d > Integer.MAX_VALUE) throw new OpException("depth must be at least 1 (and fit 32 bits), got " + d);
        return (int) d;
    }

    /** Shape of OneHot's output: the indices' with depth inserted at {@code axis} (in [-(r+1), r]). */
    public static Shape oneHotShape(Shape indices, int depth, long axisAttr) {
        int r = indices.rank(), axis = OpUtil.axis(axisAttr, r + 1, "attribute 'axis'");
        int[] dims = new int[r + 1];
        for (int i = 0, k = 0; i <= r; i++) dims[i] = i == axis ? depth : indices.dim(k++);
        return ShapeOps.toShape(Arrays.stream(dims).asLongStream().toArray(), "OneHot output");
    }

    /** out[..., d, ...] = values[1] (on) where indices[...] (negative counts from depth) equals d, else values[0] (off). */
    public static final class OneHot extends BaseOp {
        OneHot() {
            super(def("OneHot", "one-hot encoding: the on value where the index equals the position along the new axis, off elsewhere")
                    .inputs(3, 3, "indices", "depth", "values")
                    .intAttr("axis", -1, "where the depth axis is inserted; negative counts from the back of the output"));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType idx = ctx.input(0), values = ctx.input(2);
            DTypeSets.require("indices", idx.dtype(), DTypeSets.NUMERIC);
            if (values.rank() != 1 || values.shape().dim(0) != 2)
                throw new OpException("values must be [off_value, on_value] (shape [2]), got shape " + values.shape());
            int depth = oneHotDepth(ctx.requireConstant(1, "depth"));
            return List.of(TensorType.of(values.dtype(), oneHotShape(idx.shape(), depth, ctx.attrs().getInt("axis", -1))));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor idx = ctx.input(0), values = ctx.input(2), out = Tensor.zeros(ctx.outputType(0));
            int depth = oneHotDepth(ctx.input(1));
            int r = idx.rank(), axis = OpUtil.axis(ctx.attrs().getInt("axis", -1), r + 1, "attribute 'axis'");
            int outer = ShapeOps.product(idx.shape(), 0, axis), inner = ShapeOps.product(idx.shape(), axis, r);
            boolean ints = integral(values.dtype());
            for (int o = 0; o < outer; o++)
                for (int d = 0; d < depth; d++)
                    for (int in = 0; in < inner; in++) {
                        long k = idx.getLong(o * inner + in);
                        if (k < 0) k += depth;
                        int pick = k == d ? 1 : 0, at = (o * depth + d) * inner + in;
                        if (ints) out.setLong(at, values.getLong(pick));
                        else out.setDouble(at, values.getDouble(pick));
                    }
            return OpUtil.one(out);
        }
    }

    /** TopK's K from its input (i64, one element), checked against the axis it picks from. */
    public static int topK(Tensor k, int axisLen) {
        ShapeOps.requireDType("K", k.dtype(), DType.I64);
        long v = scalar(k, "K").getLong(0);
        if (v < 0 || v > axisLen) throw new OpException("K " + v + " is out of range for an axis of " + axisLen + " elements (allowed 0 to " + axisLen + ")");
        return (int) v;
    }

    /**
     * Whether element a (at index ia) comes before b (at ib) in TopK's order: the larger first (smaller with
     * {@code largest} false), NaN above every number, equal values by lower index.
     */
    public static boolean topKBefore(double a, int ia, double b, int ib, boolean largest) {
        boolean na = Double.isNaN(a), nb = Double.isNaN(b);
        int c = na || nb ? Boolean.compare(na, nb) : a == b ? 0 : a > b ? 1 : -1;
        if (!largest) c = -c;
        return c > 0 || (c == 0 && ia < ib);
    }

    /** The K largest (or smallest) elements along an axis with their i64 indices, sorted (ties by lower index). */
    public static final class TopK extends BaseOp {
        TopK() {
            super(def("TopK", "the K largest (or smallest) elements along axis, and their indices, in order")
                    .inputs(2, 2, "X", "K").outputs(2, 2)
                    .intAttr("axis", -1, "the axis searched; negative counts from the back")
                    .intAttr("largest", 1, "1 picks the largest elements, 0 the smallest")
                    .intAttr("sorted", 1, "1 orders the results; Tessel always returns them in order"));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0);
            DTypeSets.require("input X", x.dtype(), DTypeSets.NUMERIC);
            if (x.rank() == 0) throw new OpException("input X must have rank >= 1, got a scalar");
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", -1), x.rank(), "attribute 'axis'");
            int k = topK(ctx.requireConstant(1, "K"), x.shape().dim(axis));
            Shape s = x.shape().withDim(axis, k);
            return List.of(TensorType.of(x.dtype(), s), TensorType.of(DType.I64, s));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0);
            Shape s = x.shape();
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", -1), s.rank(), "attribute 'axis'");
            int len = s.dim(axis), k = topK(ctx.input(1), len);
            boolean largest = ctx.attrs().getInt("largest", 1) != 0, ints = integral(x.dtype());
            Tensor values = Tensor.zeros(ctx.outputType(0)), indices = Tensor.zeros(ctx.outputType(1));
            int inner = ShapeOps.product(s, axis + 1, s.rank()), outer = ShapeOps.product(s, 0, axis);
            for (int o = 0; o < outer; o++)
                for (int in = 0; in < inner; in++) {
                    int base = o * len * inner + in;
                    Integer[] order = new Integer[len];
                    for (int j = 0; j < len; j++) order[j] = j;
                    if (ints) Arrays.sort(order, (a, b) -> {
                        int c = Long.compare(x.getLong(base + b * inner), x.getLong(base + a * inner));
                        return largest ? (c != 0 ? c : Integer.compare(a, b)) : (c != 0 ? -c : Integer.compare(a, b));
                    });
                    else Arrays.sort(order, (a, b) -> a.equals(b) ? 0 : topKBefore(x.getDouble(base + a * inner), a, x.getDouble(base + b * inner), b, largest) ? -1 : 1);
                    for (int j = 0; j < k; j++) {
                        int to = (o * k + j) * inner + in, from = base + order[j] * inner;
                        if (ints) values.setLong(to, x.getLong(from));
                        else values.setDouble(to, x.getDouble(from));
                        indices.setLong(to, order[j]);
                    }
                }
            return List.of(values, indices);
        }
    }

    /** How a scatter combines an update u with the element a it lands on. */
    public enum Reduction {
        NONE, ADD, MUL, MAX, MIN;

        public static Reduction of(String s, DType data) {
            Reduction r = switch (s) {
                case "none" -> NONE;
                case "add" -> ADD;
                case "mul" -> MUL;
                case "max" -> MAX;
                case "min" -> MIN;
                default -> throw new OpException("attribute 'reduction' must be none, add, mul, max or min, got '" + s + "'");
            };
            if (r != NONE && data == DType.BOOL) throw new OpException("reduction '" + s + "' needs numeric data, got bool");
            return r;
        }

        public String text() { return name().toLowerCase(java.util.Locale.ROOT); }

        double apply(double a, double u) {
            return switch (this) {
                case NONE -> u;
                case ADD -> a + u;
                case MUL -> a * u;
                case MAX -> Double.isNaN(a) || Double.isNaN(u) ? Double.NaN : Math.max(a, u);
                case MIN -> Double.isNaN(a) || Double.isNaN(u) ? Double.NaN : Math.min(a, u);
            };
        }

        long apply(long a, long u) {
            return switch (this) {
                case NONE -> u;
                case ADD -> a + u;
                case MUL -> a * u;
                case MAX -> Math.max(a, u);
                case MIN -> Math.min(a, u);
            };
        }

        /** Combines update {@code u} (element {@code ui} of updates) into element {@code oi} of out. */
        void into(Tensor out, int oi, Tensor updates, int ui) {
            if (integral(out.dtype())) out.setLong(oi, apply(out.getLong(oi), updates.getLong(ui)));
            else out.setDouble(oi, apply(out.getDouble(oi), updates.getDouble(ui)));
        }
    }

    /** Normalizes index v (negative counts from the back) into [0, size), or fails naming where it is. */
    private static int index(long v, int size, int axis, Shape indices, int flat) {
        long k = v < 0 ? v + size : v;
        if (k < 0 || k >= size) {
            int[] pos = new int[indices.rank()];
            for (int d = indices.rank() - 1, i = flat; d >= 0; d--) {
                pos[d] = i % indices.dim(d);
                i /= indices.dim(d);
            }
            throw new OpException("index " + v + " at indices" + Arrays.toString(pos).replace(" ", "") + " is out of range for axis " + axis
                    + " of size " + size + " (allowed " + (-size) + " to " + (size - 1) + ")");
        }
        return (int) k;
    }

    /** ScatterElements (opset 18): data with updates[i..] written (or reduced) at i.. with the axis coordinate from indices[i..]. */
    public static final class ScatterElements extends BaseOp {
        ScatterElements() {
            super(def("ScatterElements", "data with each update written (or combined by reduction) where its position, axis coordinate taken from indices, points")
                    .inputs(3, 3, "data", "indices", "updates")
                    .intAttr("axis", 0, "axis the indices address; negative counts from the back")
                    .stringAttr("reduction", "none", "none (the last write wins), add, mul, max or min")
                    .traits(Trait.DATA_MOVEMENT));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0), idx = ctx.input(1), upd = ctx.input(2);
            checkScatter(ctx);
            if (!idx.shape().equals(upd.shape())) throw new OpException("indices shape " + idx.shape() + " and updates shape " + upd.shape() + " must be equal");
            if (idx.rank() != x.rank()) throw new OpException("indices must have the same rank as data (" + x.rank() + "), got shape " + idx.shape());
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), x.rank(), "attribute 'axis'");
            for (int d = 0; d < x.rank(); d++)
                if (d != axis && idx.shape().dim(d) > x.shape().dim(d))
                    throw new OpException("indices shape " + idx.shape() + " exceeds data shape " + x.shape() + " in dimension " + d
                            + " (only axis " + axis + " may differ freely)");
            Tensor c = ctx.constant(1);
            if (c != null) targets(x.shape(), c, axis);
            return List.of(x);
        }

        /** For each element of indices, the flat position in data it scatters to. */
        static int[] targets(Shape data, Tensor indices, int axis) {
            Shape is = indices.shape();
            int r = is.rank(), size = data.dim(axis);
            int[] ds = data.strides(), counter = new int[r], pos = new int[indices.size()];
            for (int i = 0; i < pos.length; i++) {
                int p = 0;
                for (int d = 0; d < r; d++) if (d != axis) p += counter[d] * ds[d];
                pos[i] = p + index(indices.getLong(i), size, axis, is, i) * ds[axis];
                for (int d = r - 1; d >= 0 && ++counter[d] == is.dim(d); d--) counter[d] = 0;
            }
            return pos;
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0), upd = ctx.input(2), out = x.copy();
            int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), x.rank(), "attribute 'axis'");
            Reduction red = Reduction.of(ctx.attrs().getString("reduction", "none"), x.dtype());
            int[] pos = targets(x.shape(), ctx.input(1), axis);
            for (int i = 0; i < pos.length; i++) red.into(out, pos[i], upd, i);
            return OpUtil.one(out);
        }
    }

    /** What both scatters require of data, indices, updates and the reduction attribute. */
    static void checkScatter(InferenceContext ctx) {
        TensorType x = ctx.input(0), idx = ctx.input(1), upd = ctx.input(2);
        if (x.rank() == 0) throw new OpException("data must have rank >= 1, got a scalar");
        ShapeOps.requireDType("indices", idx.dtype(), INDEX_TYPES);
        OpUtil.requireSameDType("updates and data", upd.dtype(), x.dtype());
        Reduction.of(ctx.attrs().getString("reduction", "none"), x.dtype());
    }

    /** ScatterND (opset 18): data with each slice updates[n] written (or reduced) at the leading coordinates indices[n]. */
    public static final class ScatterND extends BaseOp {
        ScatterND() {
            super(def("ScatterND", "data with each update slice written (or combined by reduction) at the leading coordinates its index tuple gives")
                    .inputs(3, 3, "data", "indices", "updates")
                    .stringAttr("reduction", "none", "none (the last write wins), add, mul, max or min")
                    .traits(Trait.DATA_MOVEMENT));
        }

        /** The shape updates must have: indices' leading dims, then data's dims after the k indexed ones. */
        public static Shape updatesShape(Shape data, Shape indices) {
            if (indices.rank() < 1) throw new OpException("indices must have rank >= 1, got a scalar");
            int k = indices.dim(-1), q = indices.rank();
            if (k > data.rank()) throw new OpException("index tuples of length " + k + " (indices shape " + indices + ") exceed data's rank " + data.rank());
            int[] dims = new int[q - 1 + data.rank() - k];
            for (int i = 0; i < q - 1; i++) dims[i] = indices.dim(i);
            for (int i = k; i < data.rank(); i++) dims[q - 1 + i - k] = data.dim(i);
            return Shape.of(dims);
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            TensorType x = ctx.input(0), idx = ctx.input(1), upd = ctx.input(2);
            checkScatter(ctx);
            Shape want = updatesShape(x.shape(), idx.shape());
            if (!want.equals(upd.shape()))
                throw new OpException("updates must have shape " + want + " (indices " + idx.shape() + " into data " + x.shape() + "), got " + upd.shape());
            Tensor c = ctx.constant(1);
            if (c != null) offsets(x.shape(), c);
            return List.of(x);
        }

        /** For each index tuple, the flat offset in data of the slice it addresses. */
        static int[] offsets(Shape data, Tensor indices) {
            int k = indices.shape().dim(-1), n = ShapeOps.product(indices.shape(), 0, indices.rank() - 1);
            int[] ds = data.strides(), out = new int[n];
            for (int t = 0; t < n; t++)
                for (int j = 0; j < k; j++) out[t] += index(indices.getLong(t * k + j), data.dim(j), j, indices.shape(), t * k + j) * ds[j];
            return out;
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            Tensor x = ctx.input(0), upd = ctx.input(2), out = x.copy();
            Reduction red = Reduction.of(ctx.attrs().getString("reduction", "none"), x.dtype());
            int[] off = offsets(x.shape(), ctx.input(1));
            int k = ctx.input(1).shape().dim(-1), slice = ShapeOps.product(x.shape(), k, x.rank());
            for (int t = 0; t < off.length; t++)
                for (int e = 0; e < slice; e++) red.into(out, off[t] + e, upd, t * slice + e);
            return OpUtil.one(out);
        }
    }
}

package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * The Reduce* family (opset 18 and later): axes as optional input 1, which must be a constant
 * because it decides the output shape, plus {@code keepdims} (default 1) and
 * {@code noop_with_empty_axes} (default 0: absent or empty axes reduce everything; 1: they leave
 * the input unchanged).
 *
 * <p>Floats accumulate in double; integer sums, products, maxima and minima accumulate exactly in
 * long and wrap to the type. Reducing an empty set gives the kind's identity: 0 for sums, 1 for
 * products, the type's lowest (highest) value for Max (Min), NaN for Mean, -inf for the log kinds.
 */
final class ReduceOp extends BaseOp {
    enum Kind {
        SUM, MEAN, MAX, MIN, PROD, SUM_SQUARE, L1, L2, LOG_SUM, LOG_SUM_EXP;

        /** Kinds computed exactly in long for integer (and bool) inputs. */
        boolean exactForIntegers() { return this == SUM || this == MAX || this == MIN || this == PROD || this == SUM_SQUARE || this == L1; }
    }

    private final Kind kind;
    private final Set<DType> types;

    ReduceOp(String name, String summary, Kind kind, Set<DType> types) {
        super(def(name, summary).inputs(1, 2, "data", "axes")
                .intAttr("keepdims", 1, "1 keeps reduced dimensions as size 1, 0 removes them")
                .intAttr("noop_with_empty_axes", 0, "with absent or empty axes: 0 reduces all dimensions, 1 is the identity"));
        this.kind = kind;
        this.types = types;
    }

    Kind kind() { return kind; }

    /** Which dimensions are reduced; null means the op is the identity (noop_with_empty_axes with no axes). */
    static boolean[] reducedDims(int rank, Tensor axes, long noopWithEmptyAxes) {
        boolean[] r = new boolean[rank];
        if (axes == null || axes.size() == 0) {
            if (noopWithEmptyAxes != 0) return null;
            java.util.Arrays.fill(r, true);
            return r;
        }
        if (!axes.dtype().isInteger()) throw new OpException("axes must be an integer tensor, got " + axes.dtype().text());
        if (axes.rank() > 1) throw new OpException("axes must be 1-D, got shape " + axes.shape());
        for (int i = 0; i < axes.size(); i++) {
            int a = OpUtil.axis(axes.getLong(i), rank, "axis");
            if (r[a]) throw new OpException("axes names dimension " + a + " twice: " + java.util.Arrays.toString(OpUtil.longs(axes)));
            r[a] = true;
        }
        return r;
    }

    static Shape reducedShape(Shape s, boolean[] reduced, boolean keepDims) {
        List<Integer> dims = new ArrayList<>();
        for (int d = 0; d < s.rank(); d++) {
            if (!reduced[d]) dims.add(s.dim(d));
            else if (keepDims) dims.add(1);
        }
        return Shape.of(dims.stream().mapToInt(Integer::intValue).toArray());
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0);
        DTypeSets.require("input data", x.dtype(), types);
        Tensor axes = ctx.hasInput(1) ? ctx.requireConstant(1, "axes") : null;
        boolean[] r = reducedDims(x.rank(), axes, ctx.attrs().getInt("noop_with_empty_axes", 0));
        if (r == null) return List.of(TensorType.of(x.dtype(), x.shape()));
        return List.of(TensorType.of(x.dtype(), reducedShape(x.shape(), r, ctx.attrs().getInt("keepdims", 1) != 0)));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor x = ctx.input(0);
        boolean[] r = reducedDims(x.rank(), ctx.hasInput(1) ? ctx.input(1) : null, ctx.attrs().getInt("noop_with_empty_axes", 0));
        if (r == null) return List.of(x.copy());
        Shape kept = reducedShape(x.shape(), r, true);
        Shape outShape = reducedShape(x.shape(), r, ctx.attrs().getInt("keepdims", 1) != 0);
        int[] target = targetIndex(x.shape(), r, kept);
        int m = (int) kept.numElements();
        long count = 1;
        for (int d = 0; d < x.rank(); d++) if (r[d]) count *= x.shape().dim(d);
        Tensor out = Tensor.zeros(x.dtype(), outShape);
        if (x.dtype().storage() == DType.Storage.LONG && kind.exactForIntegers()) reduceLongs(x, target, m, out);
        else reduceDoubles(x, target, m, count, out);
        return List.of(out);
    }

    /** For each flat index of x, the flat index of the (keepdims-shaped) output element it folds into. */
    static int[] targetIndex(Shape in, boolean[] reduced, Shape kept) {
        int rank = in.rank(), n = (int) in.numElements();
        int[] ks = kept.strides(), step = new int[rank];
        for (int d = 0; d < rank; d++) step[d] = reduced[d] ? 0 : ks[d];
        int[] idx = new int[n], counter = new int[rank];
        int cur = 0;
        for (int i = 0; i < n; i++) {
            idx[i] = cur;
            for (int d = rank - 1; d >= 0; d--) {
                cur += step[d];
                if (++counter[d] < in.dim(d)) break;
                cur -= step[d] * counter[d];
                counter[d] = 0;
            }
        }
        return idx;
    }

    private void reduceLongs(Tensor x, int[] target, int m, Tensor out) {
        DType t = x.dtype();
        long init = switch (kind) {
            case MAX -> minOf(t);
            case MIN -> maxOf(t);
            case PROD -> 1;
            default -> 0;
        };
        long[] acc = new long[m];
        java.util.Arrays.fill(acc, init);
        long[] a = x.longs();
        for (int i = 0; i < a.length; i++) {
            int o = target[i];
            long v = a[i];
            acc[o] = switch (kind) {
                case SUM -> acc[o] + v;
                case MAX -> Math.max(acc[o], v);
                case MIN -> Math.min(acc[o], v);
                case PROD -> acc[o] * v;
                case SUM_SQUARE -> acc[o] + v * v;
                case L1 -> acc[o] + Math.abs(v);
                default -> throw new IllegalStateException(kind + " is not reduced in long");
            };
        }
        for (int i = 0; i < m; i++) out.setLong(i, acc[i]);
    }

    private static long minOf(DType t) {
        return switch (t) {
            case I8 -> Byte.MIN_VALUE;
            case I32 -> Integer.MIN_VALUE;
            case I64 -> Long.MIN_VALUE;
            default -> 0;   // u8, bool
        };
    }

    private static long maxOf(DType t) {
        return switch (t) {
            case I8 -> Byte.MAX_VALUE;
            case U8 -> 255;
            case I32 -> Integer.MAX_VALUE;
            case BOOL -> 1;
            default -> Long.MAX_VALUE;
        };
    }

    private void reduceDoubles(Tensor x, int[] target, int m, long count, Tensor out) {
        double[] acc = new double[m];
        double init = switch (kind) {
            case MAX -> Double.NEGATIVE_INFINITY;
            case MIN -> Double.POSITIVE_INFINITY;
            case PROD -> 1;
            default -> 0;
        };
        java.util.Arrays.fill(acc, init);
        int n = x.size();
        double[] max = null;
        if (kind == Kind.LOG_SUM_EXP) {
            // subtract each group's maximum so exp cannot overflow
            max = new double[m];
            java.util.Arrays.fill(max, Double.NEGATIVE_INFINITY);
            for (int i = 0; i < n; i++) max[target[i]] = Math.max(max[target[i]], x.getDouble(i));
        }
        for (int i = 0; i < n; i++) {
            int o = target[i];
            double v = x.getDouble(i);
            acc[o] = switch (kind) {
                case SUM, MEAN, LOG_SUM -> acc[o] + v;
                case MAX -> Math.max(acc[o], v);
                case MIN -> Math.min(acc[o], v);
                case PROD -> acc[o] * v;
                case SUM_SQUARE, L2 -> acc[o] + v * v;
                case L1 -> acc[o] + Math.abs(v);
                case LOG_SUM_EXP -> Double.isInfinite(max[o]) ? acc[o] : acc[o] + Math.exp(v - max[o]);
            };
        }
        for (int i = 0; i < m; i++) {
            double v = switch (kind) {
                case MEAN -> acc[i] / count;
                case L2 -> Math.sqrt(acc[i]);
                case LOG_SUM -> Math.log(acc[i]);
                case LOG_SUM_EXP -> Double.isInfinite(max[i]) ? max[i] : max[i] + Math.log(acc[i]);
                default -> acc[i];
            };
            Kernels.store(out, i, v);
        }
    }
}

package org.tessel.ir.ops;

import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import java.util.function.LongBinaryOperator;
import java.util.function.LongUnaryOperator;
import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/**
 * Element loops shared by the elementwise ops: unary maps, broadcasting binary maps and
 * comparisons, one loop per storage class (float[], double[], long[]) so no element is boxed.
 *
 * <p>The reference interpreter spends most of its non-convolution time here, so the common
 * cases get plain loops: operands of the output's size are indexed directly, one-element operands
 * are hoisted out of the loop, and only true broadcasts pay for an index map.
 *
 * <p>Narrow float results are rounded once, from the exact (f32 arithmetic) or double result,
 * with {@link #roundDouble} so f16/bf16 values are correctly rounded rather than rounded twice.
 */
final class Kernels {
    private Kernels() {}

    @FunctionalInterface interface FloatOp2 { float apply(float a, float b); }
    @FunctionalInterface interface DoublePred2 { boolean test(double a, double b); }
    @FunctionalInterface interface LongPred2 { boolean test(long a, long b); }

    /**
     * An arithmetic kernel per storage class. f computes f32/f16/bf16 in float (for + - * / the
     * float result rounded to f16/bf16 equals the correctly rounded narrow result); any may be
     * null when the op's type constraint excludes that storage class.
     */
    record Arith(FloatOp2 f, DoubleBinaryOperator d, LongBinaryOperator l) {}

    /** A comparison: floats compare as doubles (exact), integers and bools as longs. */
    record Compare(DoublePred2 d, LongPred2 l) {}

    // ---- rounding ---------------------------------------------------------------------------

    /**
     * The float-storage value of v for a float-stored type: f32 rounds once; f16 and bf16 go through
     * a round-to-odd f32, which makes the final round-to-nearest-even exact (no double rounding).
     */
    static float roundDouble(DType t, double v) {
        if (t == DType.F32) return (float) v;
        return Tensor.round(t, roundToOdd(v));
    }

    /** v rounded to f32 by round-to-odd (an inexact result gets an odd last bit): a later rounding to a narrower float is then exact. */
    static float roundToOdd(double v) {
        float f = (float) v;
        if ((double) f != v && !Double.isNaN(v) && !Float.isInfinite(f)) {
            if ((Float.floatToRawIntBits(f) & 1) == 0) f = f > v ? Math.nextDown(f) : Math.nextUp(f);
        }
        return f;
    }

    /** Stores v into out[i] with the type's rounding (narrow floats correctly rounded, ints truncated and wrapped). */
    static void store(Tensor out, int i, double v) {
        if (out.dtype().storage() == DType.Storage.FLOAT) out.floats()[i] = roundDouble(out.dtype(), v);
        else out.setDouble(i, v);
    }

    static void roundInPlace(DType t, float[] v) {
        if (t == DType.F32) return;
        for (int i = 0; i < v.length; i++) v[i] = Tensor.round(t, v[i]);
    }

    static void wrapInPlace(DType t, long[] v) {
        if (t == DType.I64) return;
        for (int i = 0; i < v.length; i++) v[i] = Tensor.wrap(t, v[i]);
    }

    // ---- unary ------------------------------------------------------------------------------

    /**
     * y = f(x) elementwise into a tensor of type outType. Integer inputs use li when given (exact
     * for i64), else go through f in double; the result is stored with outType's conversion.
     */
    static Tensor unary(Tensor x, DType outType, DoubleUnaryOperator f, LongUnaryOperator li) {
        Tensor out = Tensor.zeros(outType, x.shape());
        int n = x.size();
        DType in = x.dtype();
        if (in == outType && in.storage() == DType.Storage.FLOAT) {
            float[] a = x.floats(), o = out.floats();
            if (in == DType.F32) for (int i = 0; i < n; i++) o[i] = (float) f.applyAsDouble(a[i]);
            else for (int i = 0; i < n; i++) o[i] = roundDouble(in, f.applyAsDouble(a[i]));
        } else if (in == outType && in == DType.F64) {
            double[] a = x.doubles(), o = out.doubles();
            for (int i = 0; i < n; i++) o[i] = f.applyAsDouble(a[i]);
        } else if (in == outType && li != null && in.storage() == DType.Storage.LONG) {
            long[] a = x.longs(), o = out.longs();
            for (int i = 0; i < n; i++) o[i] = li.applyAsLong(a[i]);
            wrapInPlace(outType, o);
        } else {
            for (int i = 0; i < n; i++) store(out, i, f.applyAsDouble(x.getDouble(i)));
        }
        return out;
    }

    // ---- binary -----------------------------------------------------------------------------

    /** True when a tensor of shape from broadcasts onto shape to without changing it (ONNX's unidirectional broadcasting). */
    static boolean broadcastsOnto(Shape from, Shape to) {
        int off = to.rank() - from.rank();
        if (off < 0) return false;
        for (int d = 0; d < from.rank(); d++) if (from.dim(d) != 1 && from.dim(d) != to.dim(off + d)) return false;
        return true;
    }

    /** For each output element, the flat index of the operand element broadcast onto it. */
    static int[] index(Shape in, Shape out) { return OpUtil.broadcastIndex(in, out); }

    /** out = k(a, b), a and b of one dtype broadcast to outShape; the result has their dtype. */
    static Tensor arith(Tensor a, Tensor b, Shape outShape, Arith k) {
        DType t = a.dtype();
        if (b.dtype() != t) throw new OpException("operands must have one element type, got " + t.text() + " and " + b.dtype().text());
        Tensor out = Tensor.zeros(t, outShape);
        switch (t.storage()) {
            case FLOAT -> {
                floats(a.floats(), a.shape(), b.floats(), b.shape(), out.floats(), outShape, k.f());
                roundInPlace(t, out.floats());
            }
            case DOUBLE -> doubles(a.doubles(), a.shape(), b.doubles(), b.shape(), out.doubles(), outShape, k.d());
            case LONG -> {
                longs(a.longs(), a.shape(), b.longs(), b.shape(), out.longs(), outShape, k.l());
                wrapInPlace(t, out.longs());
            }
        }
        return out;
    }

    private static void floats(float[] a, Shape as, float[] b, Shape bs, float[] o, Shape os, FloatOp2 f) {
        int n = o.length;
        if (a.length == n && b.length == n) {
            for (int i = 0; i < n; i++) o[i] = f.apply(a[i], b[i]);
        } else if (a.length == n && b.length == 1) {
            float s = b[0];
            for (int i = 0; i < n; i++) o[i] = f.apply(a[i], s);
        } else if (b.length == n && a.length == 1) {
            float s = a[0];
            for (int i = 0; i < n; i++) o[i] = f.apply(s, b[i]);
        } else if (a.length == n && block(bs, os) != null) {
            int[] blk = block(bs, os);
            int p = 0;
            for (int out = 0; out < blk[0]; out++)
                for (int m = 0; m < blk[1]; m++) {
                    float s = b[m];
                    for (int end = p + blk[2]; p < end; p++) o[p] = f.apply(a[p], s);
                }
        } else if (b.length == n && block(as, os) != null) {
            int[] blk = block(as, os);
            int p = 0;
            for (int out = 0; out < blk[0]; out++)
                for (int m = 0; m < blk[1]; m++) {
                    float s = a[m];
                    for (int end = p + blk[2]; p < end; p++) o[p] = f.apply(s, b[p]);
                }
        } else {
            int[] ia = index(as, os), ib = index(bs, os);
            for (int i = 0; i < n; i++) o[i] = f.apply(a[ia[i]], b[ib[i]]);
        }
    }

    /**
     * When the operand's non-1 dimensions form one contiguous run matching the output (a bias of
     * shape [C] on [N, C], or [C, 1, 1] on [N, C, H, W]), its element for output index i is
     * (i / inner) % mid: returns {outer, mid, inner}; null for any other broadcast.
     */
    static int[] block(Shape in, Shape out) {
        int off = out.rank() - in.rank(), first = -1, last = -1;
        for (int d = 0; d < in.rank(); d++) if (in.dim(d) != 1) { if (first < 0) first = d; last = d; }
        if (first < 0) return null;
        long mid = 1, inner = 1;
        for (int d = first; d <= last; d++) {
            if (in.dim(d) != out.dim(off + d)) return null;
            mid *= in.dim(d);
        }
        for (int d = off + last + 1; d < out.rank(); d++) inner *= out.dim(d);
        if (mid * inner == 0) return null;
        long outer = out.numElements() / (mid * inner);
        return new int[] {(int) outer, (int) mid, (int) inner};
    }

    private static void doubles(double[] a, Shape as, double[] b, Shape bs, double[] o, Shape os, DoubleBinaryOperator f) {
        int n = o.length;
        if (a.length == n && b.length == n) {
            for (int i = 0; i < n; i++) o[i] = f.applyAsDouble(a[i], b[i]);
        } else {
            int[] ia = index(as, os), ib = index(bs, os);
            for (int i = 0; i < n; i++) o[i] = f.applyAsDouble(a[ia[i]], b[ib[i]]);
        }
    }

    private static void longs(long[] a, Shape as, long[] b, Shape bs, long[] o, Shape os, LongBinaryOperator f) {
        int n = o.length;
        if (a.length == n && b.length == n) {
            for (int i = 0; i < n; i++) o[i] = f.applyAsLong(a[i], b[i]);
        } else {
            int[] ia = index(as, os), ib = index(bs, os);
            for (int i = 0; i < n; i++) o[i] = f.applyAsLong(a[ia[i]], b[ib[i]]);
        }
    }

    /** A bool tensor of k(a, b), a and b of one dtype broadcast to outShape. */
    static Tensor compare(Tensor a, Tensor b, Shape outShape, Compare k) {
        if (b.dtype() != a.dtype()) throw new OpException("operands must have one element type, got " + a.dtype().text() + " and " + b.dtype().text());
        Tensor out = Tensor.zeros(DType.BOOL, outShape);
        long[] o = out.longs();
        int n = o.length;
        boolean same = a.size() == n && b.size() == n;
        int[] ia = same ? null : index(a.shape(), outShape), ib = same ? null : index(b.shape(), outShape);
        if (a.dtype().storage() == DType.Storage.LONG) {
            long[] x = a.longs(), y = b.longs();
            for (int i = 0; i < n; i++) o[i] = k.l().test(x[same ? i : ia[i]], y[same ? i : ib[i]]) ? 1 : 0;
        } else {
            for (int i = 0; i < n; i++) o[i] = k.d().test(a.getDouble(same ? i : ia[i]), b.getDouble(same ? i : ib[i])) ? 1 : 0;
        }
        return out;
    }
}

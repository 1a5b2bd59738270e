package org.tessel.ir.ops;

import java.util.Arrays;
import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/**
 * Static shape arithmetic shared by the shape ops and by other code that must agree with them
 * (passes that fold Reshape chains, importers that rewrite old opset forms): ONNX's Reshape target
 * rules, axis-list normalization and reading shape-like constant inputs.
 */
public final class ShapeOps {
    private ShapeOps() {}

    /**
     * The window Slice reads from a tensor of shape {@code s}, as the reference reads it: {start, step, count} per
     * axis (axes not named keep start 0, step 1, their whole extent); {@code axes} and {@code steps} may be null.
     * The GPU engine's Slice layer copies exactly this window.
     */
    public static int[][] sliceWindow(Shape s, Tensor starts, Tensor ends, Tensor axes, Tensor steps) {
        MoveOps.SlicePlan p = MoveOps.Slice.plan(s, starts, ends, axes, steps);
        return new int[][] {p.start(), p.step(), p.count()};
    }

    /**
     * The shape ONNX Reshape produces from input shape {@code in} and target {@code spec}: a 0
     * copies the input's dimension at that index (unless {@code allowZero}, where it means an
     * empty dimension), and at most one -1 is inferred from the remaining element count.
     */
    public static Shape reshapeTarget(Shape in, long[] spec, boolean allowZero) {
        String specText = Arrays.toString(spec).replace(" ", "");
        int inferred = -1;
        boolean hasZero = false;
        long[] out = new long[spec.length];
        long known = 1;
        for (int i = 0; i < spec.length; i++) {
            long v = spec[i];
            if (v == -1) {
                if (inferred >= 0) throw new OpException("shape " + specText + " has more than one -1 (dimensions " + inferred + " and " + i + ")");
                inferred = i;
                continue;
            }
            if (v < -1) throw new OpException("shape " + specText + " has invalid dimension " + v + " at index " + i + " (allowed: -1, 0 or positive)");
            if (v == 0) {
                hasZero = true;
                if (!allowZero) {
                    if (i >= in.rank())
                        throw new OpException("shape " + specText + " has 0 at index " + i + ", which copies an input dimension, but input shape " + in + " has rank " + in.rank());
                    v = in.dim(i);
                }
            }
            out[i] = v;
            known = multiplyChecked(known, v, specText);
        }
        long total = in.numElements();
        if (inferred >= 0) {
            if (allowZero && hasZero)
                throw new OpException("shape " + specText + " has both 0 and -1 with allowzero=1, so the -1 cannot be inferred");
            if (known == 0 || total % known != 0)
                throw new OpException("cannot reshape " + in + " (" + total + " elements) to " + specText
                        + ": the -1 dimension cannot be inferred from the other dimensions (product " + known + ")");
            out[inferred] = total / known;
        } else if (known != total) {
            throw new OpException("cannot reshape " + in + " (" + total + " elements) to " + specText + " (" + known + " elements)");
        }
        return toShape(out, "shape " + specText);
    }

    private static long multiplyChecked(long a, long b, String specText) {
        try {
            long p = Math.multiplyExact(a, b);
            if (p > Shape.MAX_ELEMENTS) throw new ArithmeticException();
            return p;
        } catch (ArithmeticException e) {
            throw new OpException("shape " + specText + " has too many elements (at most " + Shape.MAX_ELEMENTS + " are supported)");
        }
    }

    /**
     * Normalizes a list of possibly negative axes into [0, rank), keeping their order. Fails,
     * naming {@code what}, on an axis out of [-rank, rank-1] or an axis given twice.
     */
    public static int[] normalizeAxes(long[] axes, int rank, String what) {
        int[] out = new int[axes.length];
        boolean[] seen = new boolean[Math.max(rank, 0)];
        for (int i = 0; i < axes.length; i++) {
            long a = axes[i] < 0 ? axes[i] + rank : axes[i];
            if (a < 0 || a >= rank)
                throw new OpException(what + " " + axes[i] + " is out of range for rank " + rank + " (allowed " + (-rank) + " to " + (rank - 1) + ")");
            if (seen[(int) a])
                throw new OpException(what + " " + Arrays.toString(axes).replace(" ", "") + " name axis " + a + " more than once");
            seen[(int) a] = true;
            out[i] = (int) a;
        }
        return out;
    }

    /** A shape from dimensions that must be non-negative and not absurdly large; fails naming {@code what}. */
    public static Shape toShape(long[] dims, String what) {
        long n = 1;
        for (long d : dims) {
            if (d < 0) throw new OpException(what + ": negative dimension " + d);
            if (d > Integer.MAX_VALUE) throw new OpException(what + ": dimension " + d + " is too large");
            n *= d;
            if (n > Shape.MAX_ELEMENTS) throw new OpException(what + " has too many elements (at most " + Shape.MAX_ELEMENTS + " are supported)");
        }
        return Shape.of(dims);
    }

    /**
     * Reads a shape-like integer input (shape, axes, starts...) whose ONNX type is restricted to
     * the given dtypes and whose rank must be 1 (or 0 when {@code scalarOk}).
     */
    static long[] readInts(Tensor t, String what, boolean scalarOk, DType... allowed) {
        requireDType(what, t.dtype(), allowed);
        if (t.rank() != 1 && !(scalarOk && t.rank() == 0))
            throw new OpException(what + " must be a 1-D tensor, got shape " + t.shape());
        return OpUtil.longs(t);
    }

    /** Fails unless dtype is one of the allowed ones, naming them. */
    static void requireDType(String what, DType t, DType... allowed) {
        for (DType a : allowed) if (a == t) return;
        throw new OpException(what + " must be of type " + Arrays.stream(allowed).map(DType::text).toList()
                .toString().replace(" ", "") + ", got " + t.text());
    }

    /** Product of dims[from, to). */
    static int product(Shape s, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) p *= s.dim(i);
        return Math.toIntExact(p);
    }
}

package org.tessel.ir.ops;

import java.util.Arrays;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/** Shared helpers for op definitions: broadcasting, axis normalization, checks with clear messages. */
public final class OpUtil {
    private OpUtil() {}

    /** Numpy-style multidirectional broadcast of shapes; fails naming both shapes. */
    public static Shape broadcast(Shape... shapes) {
        int rank = 0;
        for (Shape s : shapes) rank = Math.max(rank, s.rank());
        int[] out = new int[rank];
        Arrays.fill(out, 1);
        for (Shape s : shapes) {
            int off = rank - s.rank();
            for (int i = 0; i < s.rank(); i++) {
                int d = s.dim(i), o = out[off + i];
                if (o == d || d == 1) continue;
                if (o == 1) out[off + i] = d;
                else throw new OpException("shapes " + Arrays.toString(shapes) + " cannot be broadcast together (dimension " + (off + i) + ": " + o + " vs " + d + ")");
            }
        }
        return Shape.of(out);
    }

    /**
     * For each flat index of {@code out}, the flat index into a tensor of shape {@code in} that
     * broadcasts to it. Cheap enough for the reference interpreter.
     */
    public static int[] broadcastIndex(Shape in, Shape out) {
        int n = (int) out.numElements();
        int[] idx = new int[n];
        int rank = out.rank();
        int off = rank - in.rank();
        int[] inStrides = new int[rank];
        int[] inS = in.strides();
        for (int i = 0; i < in.rank(); i++) inStrides[off + i] = in.dim(i) == 1 ? 0 : inS[i];
        int[] counter = new int[rank];
        int cur = 0;
        for (int k = 0; k < n; k++) {
            idx[k] = cur;
            for (int d = rank - 1; d >= 0; d--) {
                counter[d]++;
                cur += inStrides[d];
                if (counter[d] < out.dim(d)) break;
                cur -= inStrides[d] * counter[d];
                counter[d] = 0;
            }
        }
        return idx;
    }

    /** Normalizes a possibly negative axis into [0, rank); fails naming the axis and rank. */
    public static int axis(long axis, int rank, String what) {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new OpException(what + " " + axis + " is out of range for rank " + rank);
        return (int) a;
    }

    public static void requireSameDType(String what, DType a, DType b) {
        if (a != b) throw new OpException(what + ": element types differ (" + a.text() + " vs " + b.text() + ")");
    }

    public static void requireFloating(String what, DType t) {
        if (!t.isFloating()) throw new OpException(what + " must be a floating type, got " + t.text());
    }

    public static void requireRank(String what, Shape s, int rank) {
        if (s.rank() != rank) throw new OpException(what + " must have rank " + rank + ", got shape " + s);
    }

    /** Reads a 1-D integer tensor (shape, axes, pads inputs) as long[]. */
    public static long[] longs(Tensor t) {
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) out[i] = t.getLong(i);
        return out;
    }

    public static int[] ints(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = Math.toIntExact(v[i]);
        return out;
    }

    public static List<Tensor> one(Tensor t) { return List.of(t); }
}

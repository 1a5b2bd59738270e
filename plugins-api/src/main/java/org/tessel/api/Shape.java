package org.tessel.api;

import java.util.Arrays;

/** An immutable, fully static tensor shape. Rank 0 is a scalar. */
public final class Shape {
    /** Largest element count a tensor may have; larger shapes are refused as absurd. */
    public static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    private final int[] dims;

    private Shape(int[] dims) { this.dims = dims; }

    public static Shape of(int... dims) {
        for (int d : dims) if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(dims));
        return new Shape(dims.clone());
    }

    public static Shape of(long... dims) {
        int[] out = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 0 || dims[i] > Integer.MAX_VALUE)
                throw new IllegalArgumentException("dimension " + dims[i] + " out of range in " + Arrays.toString(dims));
            out[i] = (int) dims[i];
        }
        return new Shape(out);
    }

    public static Shape scalar() { return new Shape(new int[0]); }

    public int rank() { return dims.length; }

    /** Dimension i; negative i counts from the end. */
    public int dim(int i) { return dims[i < 0 ? dims.length + i : i]; }

    public int[] dims() { return dims.clone(); }

    public long[] longDims() {
        long[] out = new long[dims.length];
        for (int i = 0; i < dims.length; i++) out[i] = dims[i];
        return out;
    }

    /** The product of the dimensions; an ArithmeticException when it does not fit a long. */
    public long numElements() {
        long n = 1;
        for (int d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    /** Row-major strides in elements. */
    public int[] strides() {
        int[] s = new int[dims.length];
        int acc = 1;
        for (int i = dims.length - 1; i >= 0; i--) { s[i] = acc; acc *= dims[i]; }
        return s;
    }

    public Shape withDim(int i, int value) {
        int[] d = dims.clone();
        d[i < 0 ? d.length + i : i] = value;
        return new Shape(d);
    }

    @Override public boolean equals(Object o) { return o instanceof Shape s && Arrays.equals(dims, s.dims); }
    @Override public int hashCode() { return Arrays.hashCode(dims); }

    /** Text form: {@code [1,3,224,224]}, scalars {@code []}. */
    @Override public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) { if (i > 0) sb.append(','); sb.append(dims[i]); }
        return sb.append(']').toString();
    }
}

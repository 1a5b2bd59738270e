package org.tessel.ir.ops;

import java.util.Arrays;
import org.tessel.api.Tensor;

/**
 * Copy kernels behind the data-movement ops. They work on a tensor's backing array (float[],
 * double[] or long[]) as an opaque Object, so one code path serves every dtype: contiguous runs go
 * through {@link System#arraycopy}, and only the strided inner loops need one copy per array type.
 * Because f16/bf16 and narrow integers are stored already rounded or wrapped, moving elements
 * between tensors of the same dtype never needs conversion.
 */
final class CopyKernels {
    private CopyKernels() {}

    /** The backing array of a tensor: float[], double[] or long[]. */
    static Object data(Tensor t) {
        return switch (t.dtype().storage()) {
            case FLOAT -> t.floats();
            case DOUBLE -> t.doubles();
            case LONG -> t.longs();
        };
    }

    /**
     * Fills a contiguous row-major block of {@code dst} (starting at dstOff, shaped dims) from a
     * strided view of {@code src}: output index (i0..ik) reads src[srcOff + sum(i_d * strides[d])].
     * Strides may be 0 (broadcast) or negative (reversed slice).
     */
    static void copyStrided(Object src, int srcOff, int[] dims, int[] strides, Object dst, int dstOff) {
        // Drop unit dims and merge neighbours that are contiguous in the source, so that typical
        // views (a slice of rows, a transpose that keeps the last axis) become few long runs.
        int[] d = new int[dims.length];
        int[] s = new int[dims.length];
        int r = 0;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] == 0) return;
            if (dims[i] == 1) continue;
            if (r > 0 && s[r - 1] == (long) strides[i] * dims[i]) {
                d[r - 1] *= dims[i];
                s[r - 1] = strides[i];
            } else {
                d[r] = dims[i];
                s[r] = strides[i];
                r++;
            }
        }
        if (r == 0) {
            System.arraycopy(src, srcOff, dst, dstOff, 1);
            return;
        }
        int inner = d[r - 1], innerStride = s[r - 1];
        int[] counter = new int[r - 1];
        int pos = srcOff, out = dstOff;
        while (true) {
            copyRun(src, pos, innerStride, dst, out, inner);
            out += inner;
            int k = r - 2;
            while (k >= 0) {
                counter[k]++;
                pos += s[k];
                if (counter[k] < d[k]) break;
                pos -= s[k] * d[k];
                counter[k] = 0;
                k--;
            }
            if (k < 0) return;
        }
    }

    /** dst[dstOff + i] = src[srcOff + i * stride] for i in [0, n). */
    private static void copyRun(Object src, int srcOff, int stride, Object dst, int dstOff, int n) {
        if (stride == 1) {
            System.arraycopy(src, srcOff, dst, dstOff, n);
            return;
        }
        switch (src) {
            case float[] a -> {
                float[] b = (float[]) dst;
                if (stride == 0) Arrays.fill(b, dstOff, dstOff + n, a[srcOff]);
                else for (int i = 0, p = srcOff; i < n; i++, p += stride) b[dstOff + i] = a[p];
            }
            case double[] a -> {
                double[] b = (double[]) dst;
                if (stride == 0) Arrays.fill(b, dstOff, dstOff + n, a[srcOff]);
                else for (int i = 0, p = srcOff; i < n; i++, p += stride) b[dstOff + i] = a[p];
            }
            case long[] a -> {
                long[] b = (long[]) dst;
                if (stride == 0) Arrays.fill(b, dstOff, dstOff + n, a[srcOff]);
                else for (int i = 0, p = srcOff; i < n; i++, p += stride) b[dstOff + i] = a[p];
            }
            default -> throw new IllegalStateException("unexpected storage " + src.getClass());
        }
    }

    /** dst[i] = src[index[i]] for every i. */
    static void take(Object src, int[] index, Object dst) {
        switch (src) {
            case float[] a -> { float[] b = (float[]) dst; for (int i = 0; i < index.length; i++) b[i] = a[index[i]]; }
            case double[] a -> { double[] b = (double[]) dst; for (int i = 0; i < index.length; i++) b[i] = a[index[i]]; }
            case long[] a -> { long[] b = (long[]) dst; for (int i = 0; i < index.length; i++) b[i] = a[index[i]]; }
            default -> throw new IllegalStateException("unexpected storage " + src.getClass());
        }
    }

    /**
     * dst[i] = cond[ci[i]] != 0 ? x[xi[i]] : y[yi[i]]; a null index array means the identity
     * (that operand already has the output's shape).
     */
    static void select(long[] cond, int[] ci, Object x, int[] xi, Object y, int[] yi, Object dst, int n) {
        switch (dst) {
            case float[] o -> {
                float[] a = (float[]) x, b = (float[]) y;
                for (int i = 0; i < n; i++)
                    o[i] = cond[ci == null ? i : ci[i]] != 0 ? a[xi == null ? i : xi[i]] : b[yi == null ? i : yi[i]];
            }
            case double[] o -> {
                double[] a = (double[]) x, b = (double[]) y;
                for (int i = 0; i < n; i++)
                    o[i] = cond[ci == null ? i : ci[i]] != 0 ? a[xi == null ? i : xi[i]] : b[yi == null ? i : yi[i]];
            }
            case long[] o -> {
                long[] a = (long[]) x, b = (long[]) y;
                for (int i = 0; i < n; i++)
                    o[i] = cond[ci == null ? i : ci[i]] != 0 ? a[xi == null ? i : xi[i]] : b[yi == null ? i : yi[i]];
            }
            default -> throw new IllegalStateException("unexpected storage " + dst.getClass());
        }
    }
}

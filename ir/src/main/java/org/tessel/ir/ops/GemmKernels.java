package org.tessel.ir.ops;

/**
 * Single-threaded, cache-blocked matrix multiply kernels for the reference interpreter:
 * {@code C[M,N] += alpha * A[M,K] * B[K,N]}, with A addressed through row and column strides (so
 * a transposed A costs nothing) and B delivered in panels by a {@link FloatPanels} source (a dense
 * matrix, a transposed matrix, or an im2col view of an image that is never materialized).
 *
 * <p>The shape of the inner loop is dictated by HotSpot's auto-vectorizer: it only vectorizes
 * {@code c[j] += a * b[j]} when every array is indexed by the bare loop variable. An offset into
 * a possibly aliasing array (say {@code c[co + j]} next to {@code b[bo + j]}) makes C2 give up
 * and the loop runs scalar at a fifth of the speed. So each B panel row and each C row lives in
 * its own small array starting at index 0, and four C rows are updated per pass over a B row so
 * that each loaded B vector feeds four multiply-adds. That reaches 15-25 GFLOP/s on one AVX2 core.
 */
public final class GemmKernels {
    private GemmKernels() {}

    /** Columns of B (and C) per panel; with {@link #KB} rows the packed panel fits in L2. */
    static final int NB = 512;
    /** Rows of B per panel (the depth of one pass of the kernel). */
    static final int KB = 128;

    /** Supplies B in panels: rows {@code k0..k0+kb} and columns {@code j0..j0+nb} into {@code rows[0..kb)[0..nb)}. */
    @FunctionalInterface
    public interface FloatPanels {
        void fill(int k0, int kb, int j0, int nb, float[][] rows);
    }

    /** Double-precision counterpart of {@link FloatPanels}. */
    @FunctionalInterface
    public interface DoublePanels {
        void fill(int k0, int kb, int j0, int nb, double[][] rows);
    }

    /** Panels of a dense row-major matrix B[K,N] at {@code off} with row stride {@code ld}; transposed when {@code trans} (then B is stored [N,K]). */
    public static FloatPanels dense(float[] b, int off, int ld, boolean trans) {
        if (!trans) return (k0, kb, j0, nb, rows) -> {
            for (int k = 0; k < kb; k++) System.arraycopy(b, off + (k0 + k) * ld + j0, rows[k], 0, nb);
        };
        return (k0, kb, j0, nb, rows) -> {
            for (int j = 0; j < nb; j++) {
                int src = off + (j0 + j) * ld + k0;
                for (int k = 0; k < kb; k++) rows[k][j] = b[src + k];
            }
        };
    }

    public static DoublePanels dense(double[] b, int off, int ld, boolean trans) {
        if (!trans) return (k0, kb, j0, nb, rows) -> {
            for (int k = 0; k < kb; k++) System.arraycopy(b, off + (k0 + k) * ld + j0, rows[k], 0, nb);
        };
        return (k0, kb, j0, nb, rows) -> {
            for (int j = 0; j < nb; j++) {
                int src = off + (j0 + j) * ld + k0;
                for (int k = 0; k < kb; k++) rows[k][j] = b[src + k];
            }
        };
    }

    /**
     * {@code C[i,j] += alpha * sum_k A[i,k] * B[k,j]} for i &lt; M, j &lt; N, accumulating in float.
     * A[i,k] is {@code a[aOff + i*aRow + k*aCol]}; C[i,j] is {@code c[cOff + i*ldc + j]}.
     */
    public static void sgemm(int m, int n, int k, float alpha, float[] a, int aOff, int aRow, int aCol,
                             FloatPanels b, float[] c, int cOff, int ldc) {
        if (m == 0 || n == 0 || k == 0) return;
        int nbMax = Math.min(NB, n), kbMax = Math.min(KB, k);
        float[][] panel = new float[kbMax][nbMax];
        float[] c0 = new float[nbMax], c1 = new float[nbMax], c2 = new float[nbMax], c3 = new float[nbMax];
        for (int j0 = 0; j0 < n; j0 += NB) {
            int nb = Math.min(NB, n - j0);
            for (int k0 = 0; k0 < k; k0 += KB) {
                int kb = Math.min(KB, k - k0);
                b.fill(k0, kb, j0, nb, panel);
                int i = 0;
                for (; i + 4 <= m; i += 4) {
                    int r0 = cOff + i * ldc + j0;
                    System.arraycopy(c, r0, c0, 0, nb);
                    System.arraycopy(c, r0 + ldc, c1, 0, nb);
                    System.arraycopy(c, r0 + 2 * ldc, c2, 0, nb);
                    System.arraycopy(c, r0 + 3 * ldc, c3, 0, nb);
                    int ai = aOff + i * aRow + k0 * aCol;
                    for (int kk = 0; kk < kb; kk++, ai += aCol) {
                        axpy4(c0, c1, c2, c3, alpha * a[ai], alpha * a[ai + aRow], alpha * a[ai + 2 * aRow],
                                alpha * a[ai + 3 * aRow], panel[kk], nb);
                    }
                    System.arraycopy(c0, 0, c, r0, nb);
                    System.arraycopy(c1, 0, c, r0 + ldc, nb);
                    System.arraycopy(c2, 0, c, r0 + 2 * ldc, nb);
                    System.arraycopy(c3, 0, c, r0 + 3 * ldc, nb);
                }
                for (; i < m; i++) {
                    int r0 = cOff + i * ldc + j0;
                    System.arraycopy(c, r0, c0, 0, nb);
                    int ai = aOff + i * aRow + k0 * aCol;
                    for (int kk = 0; kk < kb; kk++, ai += aCol) axpy1(c0, alpha * a[ai], panel[kk], nb);
                    System.arraycopy(c0, 0, c, r0, nb);
                }
            }
        }
    }

    // Both kernels index every array with the bare loop variable: see the class comment.
    private static void axpy4(float[] c0, float[] c1, float[] c2, float[] c3,
                              float a0, float a1, float a2, float a3, float[] b, int n) {
        for (int j = 0; j < n; j++) {
            float v = b[j];
            c0[j] += a0 * v;
            c1[j] += a1 * v;
            c2[j] += a2 * v;
            c3[j] += a3 * v;
        }
    }

    private static void axpy1(float[] c0, float a0, float[] b, int n) {
        for (int j = 0; j < n; j++) c0[j] += a0 * b[j];
    }

    /** Double-precision {@link #sgemm}, same blocking. */
    public static void dgemm(int m, int n, int k, double alpha, double[] a, int aOff, int aRow, int aCol,
                             DoublePanels b, double[] c, int cOff, int ldc) {
        if (m == 0 || n == 0 || k == 0) return;
        int nbMax = Math.min(NB, n), kbMax = Math.min(KB, k);
        double[][] panel = new double[kbMax][nbMax];
        double[] c0 = new double[nbMax], c1 = new double[nbMax], c2 = new double[nbMax], c3 = new double[nbMax];
        for (int j0 = 0; j0 < n; j0 += NB) {
            int nb = Math.min(NB, n - j0);
            for (int k0 = 0; k0 < k; k0 += KB) {
                int kb = Math.min(KB, k - k0);
                b.fill(k0, kb, j0, nb, panel);
                int i = 0;
                for (; i + 4 <= m; i += 4) {
                    int r0 = cOff + i * ldc + j0;
                    System.arraycopy(c, r0, c0, 0, nb);
                    System.arraycopy(c, r0 + ldc, c1, 0, nb);
                    System.arraycopy(c, r0 + 2 * ldc, c2, 0, nb);
                    System.arraycopy(c, r0 + 3 * ldc, c3, 0, nb);
                    int ai = aOff + i * aRow + k0 * aCol;
                    for (int kk = 0; kk < kb; kk++, ai += aCol) {
                        axpy4(c0, c1, c2, c3, alpha * a[ai], alpha * a[ai + aRow], alpha * a[ai + 2 * aRow],
                                alpha * a[ai + 3 * aRow], panel[kk], nb);
                    }
                    System.arraycopy(c0, 0, c, r0, nb);
                    System.arraycopy(c1, 0, c, r0 + ldc, nb);
                    System.arraycopy(c2, 0, c, r0 + 2 * ldc, nb);
                    System.arraycopy(c3, 0, c, r0 + 3 * ldc, nb);
                }
                for (; i < m; i++) {
                    int r0 = cOff + i * ldc + j0;
                    System.arraycopy(c, r0, c0, 0, nb);
                    int ai = aOff + i * aRow + k0 * aCol;
                    for (int kk = 0; kk < kb; kk++, ai += aCol) axpy1(c0, alpha * a[ai], panel[kk], nb);
                    System.arraycopy(c0, 0, c, r0, nb);
                }
            }
        }
    }

    private static void axpy4(double[] c0, double[] c1, double[] c2, double[] c3,
                              double a0, double a1, double a2, double a3, double[] b, int n) {
        for (int j = 0; j < n; j++) {
            double v = b[j];
            c0[j] += a0 * v;
            c1[j] += a1 * v;
            c2[j] += a2 * v;
            c3[j] += a3 * v;
        }
    }

    private static void axpy1(double[] c0, double a0, double[] b, int n) {
        for (int j = 0; j < n; j++) c0[j] += a0 * b[j];
    }

    /**
     * Exact integer {@code C[i,j] += sum_k A[i,k] * B[k,j]} with two's-complement wraparound (the
     * caller wraps to the element type); A and B addressed by row and column strides.
     */
    public static void lgemm(int m, int n, int k, long[] a, int aOff, int aRow, int aCol,
                             long[] b, int bOff, int bRow, int bCol, long[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int kk = 0; kk < k; kk++) {
                long av = a[aOff + i * aRow + kk * aCol];
                if (av == 0) continue;
                int bi = bOff + kk * bRow;
                int ci = cOff + i * ldc;
                for (int j = 0; j < n; j++) c[ci + j] += av * b[bi + j * bCol];
            }
        }
    }
}

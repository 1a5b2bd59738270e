package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link GemmKernels#sgemm} gives bit for bit what the plain triple loop gives when each C element
 * adds its products {@code (alpha * A[i,k]) * B[k,j]} one at a time in k order (no fused
 * multiply-add): the order the reference interpreter's results, and calibration scales, rest on.
 * Shapes cover every remainder of the 4-row and 4-deep blocking and several panels.
 */
class GemmKernelsOrderTest {
    private static float[] random(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble(-1, 1) * Math.pow(2, r.nextInt(-6, 7)));
        return x;
    }

    private static void check(int m, int n, int k, boolean transA, boolean transB, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float alpha = r.nextBoolean() ? 1f : 0.7f;
        float[] a = random(r, m * k), b = random(r, k * n), c = random(r, m * n);
        float[] want = c.clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float acc = want[i * n + j];
                for (int kk = 0; kk < k; kk++) {
                    float av = transA ? a[kk * m + i] : a[i * k + kk];
                    float bv = transB ? b[j * k + kk] : b[kk * n + j];
                    acc += (alpha * av) * bv;
                }
                want[i * n + j] = acc;
            }
        float[] got = c.clone();
        GemmKernels.sgemm(m, n, k, alpha, a, 0, transA ? 1 : k, transA ? m : 1, GemmKernels.dense(b, 0, transB ? k : n, transB), got, 0, n);
        for (int i = 0; i < want.length; i++)
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]),
                    () -> m + "x" + n + "x" + k + " transA=" + transA + " transB=" + transB);
    }

    @Test void everyElementSumsItsProductsInKOrder() {
        long seed = 1;
        for (int m : new int[] {1, 3, 4, 5, 8, 11})
            for (int k : new int[] {1, 3, 4, 7, 128, 131, 260})
                for (int n : new int[] {1, 5, 17, 513})
                    check(m, n, k, (seed & 1) == 0, (seed & 2) == 0, seed++);
    }
}

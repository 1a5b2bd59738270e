package org.tessel.runtime.engine;

import java.util.List;
import java.util.stream.IntStream;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.ops.QuantizedMatMulOps.Dims;
import org.tessel.ir.ops.WeightQuantizer;

/**
 * CPU kernels of the quantized MatMuls ({@link QuantizedMatMulOps}).
 *
 * <p>Weight-only: the codes are unpacked once, when the layer is made, into (code - zero) bytes
 * (shorts for 8-bit asymmetric) laid out [K][N]; each call walks k, dequantizes that k's row of weights into a small buffer (the f32
 * weights never exist whole) and adds it, times x[i, k], to each row's accumulators. Each output's
 * products are added in k order as the reference adds them, so the results are the reference's bit for bit. The output columns are split over threads
 * (common fork-join pool) when the product is large enough to pay for it; a column is one thread's
 * work, so the thread count does not change any value.
 *
 * <p>W8A8: activations quantized per tensor to int codes, weights held as int [K][N] panels, each
 * output an exact int sum (so any order gives the same value), scaled once as the reference does.
 */
final class QuantizedMatMulKernels {
    private QuantizedMatMulKernels() {}

    /** Multiply-accumulates below which one thread does the whole product. */
    static final long PARALLEL_MACS = 1L << 20;
    /** Output columns per thread's share, at least. */
    static final int MIN_COLUMNS = 64;

    static final class WeightOnly implements CpuKernel {
        @Override public Bound bind(Node n) {
            for (int i = 1; i < n.numInputs(); i++) if (n.input(i) != null && !n.input(i).isConstant()) return null;
            int bits = (int) n.attrs().getInt("bits", 0), group = (int) n.attrs().getInt("group_size", 0);
            Dims d = QuantizedMatMulOps.WeightOnlyMatMul.check(n.input(0).type(), n.input(1).type(), n.input(2).type(),
                    n.input(3) == null ? null : n.input(3).type(), bits, group);
            Tensor codes = n.input(1).constantValue(), scales = n.input(2).constantValue();
            Tensor zeroPoints = n.input(3) == null ? null : n.input(3).constantValue();
            int k = d.k(), cols = d.n(), groups = k / group;
            int[] z = WeightQuantizer.zeros(zeroPoints, bits, cols * groups);
            // transposed: row c of the codes is input channel c over all outputs, so a step over k reads contiguous memory;
            // bytes where (code - zero) fits one (all but 8-bit asymmetric), else shorts
            boolean wide = bits == 8 && zeroPoints != null;
            byte[] narrow = wide ? null : new byte[k * cols];
            short[] centered = wide ? new short[k * cols] : null;
            float[] s = scales.floats(), st = new float[groups * cols];
            for (int row = 0; row < cols; row++) {
                for (int c = 0; c < k; c++) {
                    int v = WeightQuantizer.code(codes, bits, k, row, c) - z[row * groups + c / group];
                    if (wide) centered[c * cols + row] = (short) v;
                    else narrow[c * cols + row] = (byte) v;
                }
                for (int g = 0; g < groups; g++) st[g * cols + row] = s[row * groups + g];
            }
            return inputs -> {
                Tensor a = inputs.get(0);
                Dims dd = QuantizedMatMulOps.WeightOnlyMatMul.check(a.type(), n.input(1).type(), n.input(2).type(), n.input(3) == null ? null : n.input(3).type(), bits, group);
                float[] x = a.floats(), y = new float[dd.m() * cols];
                int m = dd.m();
                forColumnChunks(m, cols, k, (j0, nc) -> dequantizeAndMultiply(x, m, k, cols, group, narrow, centered, st, j0, nc, y));
                return List.of(Tensor.ofFloats(a.dtype(), dd.out(), y));
            };
        }

        /**
         * Columns [j0, j0 + nc) of y = x W: for each k, that k's weights of the columns are dequantized
         * into one small buffer (codes times their group's scales) and added, times x[i, k], to every row's
         * accumulator. Each output thus adds its products in k order, as the reference does; the loops index
         * their arrays by the bare loop variable so C2 vectorizes them (see GemmKernels).
         */
        static void dequantizeAndMultiply(float[] x, int m, int k, int cols, int group, byte[] narrow, short[] centered, float[] st, int j0, int nc, float[] y) {
            byte[] byteRow = narrow == null ? null : new byte[nc];
            short[] shortRow = narrow == null ? new short[nc] : null;
            float[] scaleRow = new float[nc], w = new float[nc];
            float[][] acc = new float[m][nc];
            for (int c = 0; c < k; c++) {
                if (c % group == 0) System.arraycopy(st, c / group * cols + j0, scaleRow, 0, nc);
                if (narrow != null) {
                    System.arraycopy(narrow, c * cols + j0, byteRow, 0, nc);
                    dequantize(byteRow, scaleRow, w, nc);
                } else {
                    System.arraycopy(centered, c * cols + j0, shortRow, 0, nc);
                    dequantize(shortRow, scaleRow, w, nc);
                }
                for (int i = 0; i < m; i++) axpy(acc[i], x[i * k + c], w, nc);
            }
            for (int i = 0; i < m; i++) System.arraycopy(acc[i], 0, y, i * cols + j0, nc);
        }

        private static void dequantize(byte[] q, float[] s, float[] w, int n) {
            for (int j = 0; j < n; j++) w[j] = q[j] * s[j];
        }

        private static void dequantize(short[] q, float[] s, float[] w, int n) {
            for (int j = 0; j < n; j++) w[j] = q[j] * s[j];
        }

        private static void axpy(float[] c, float a, float[] b, int n) {
            for (int j = 0; j < n; j++) c[j] += a * b[j];
        }
    }

    static final class W8A8 implements CpuKernel {
        @Override public Bound bind(Node n) {
            for (int i = 1; i < 4; i++) if (!n.input(i).isConstant()) return null;
            Dims d = QuantizedMatMulOps.W8A8MatMul.check(n.input(0).type(), n.input(1).type(), n.input(2).type(), n.input(3).type());
            int k = d.k(), cols = d.n();
            long[] w = n.input(1).constantValue().longs();
            int[][] wt = new int[k][cols];
            for (int j = 0; j < cols; j++) for (int c = 0; c < k; c++) wt[c][j] = (int) w[j * k + c];
            float[] ws = n.input(2).constantValue().floats().clone();
            float sa = n.input(3).constantValue().floats()[0];
            if (!(sa > 0) || Float.isInfinite(sa)) return null; // the reference names the bad scale
            return inputs -> {
                Tensor a = inputs.get(0);
                Dims dd = QuantizedMatMulOps.W8A8MatMul.check(a.type(), n.input(1).type(), n.input(2).type(), n.input(3).type());
                int m = dd.m();
                int[] qa = QuantizedMatMulOps.W8A8MatMul.quantizeActivations(a.floats(), sa);
                float[] y = new float[m * cols];
                forColumnChunks(m, cols, k, (j0, nc) -> {
                    int[] acc = new int[nc];
                    for (int i = 0; i < m; i++) {
                        java.util.Arrays.fill(acc, 0);
                        for (int c = 0; c < k; c++) {
                            int q = qa[i * k + c];
                            if (q == 0) continue;
                            int[] wr = wt[c];
                            for (int j = 0; j < nc; j++) acc[j] += q * wr[j0 + j];
                        }
                        for (int j = 0; j < nc; j++) y[i * cols + j0 + j] = QuantizedMatMulOps.W8A8MatMul.dequantizeSum(acc[j], sa, ws[j0 + j]);
                    }
                });
                return List.of(Tensor.ofFloats(a.dtype(), dd.out(), y));
            };
        }
    }

    @FunctionalInterface interface ColumnWork { void run(int j0, int columns); }

    /** Runs {@code work} over column ranges covering [0, n): one range, or one per thread for a large product. */
    static void forColumnChunks(int m, int n, int k, ColumnWork work) {
        int threads = Math.min(Runtime.getRuntime().availableProcessors(), n / MIN_COLUMNS);
        if (threads < 2 || (long) m * n * k < PARALLEL_MACS) {
            work.run(0, n);
            return;
        }
        int per = (n + threads - 1) / threads;
        IntStream.range(0, threads).parallel().forEach(t -> {
            int j0 = t * per, nc = Math.min(per, n - j0);
            if (nc > 0) work.run(j0, nc);
        });
    }
}

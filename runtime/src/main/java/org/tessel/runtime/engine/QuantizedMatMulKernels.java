package org.tessel.runtime.engine;

import java.util.List;
import java.util.stream.IntStream;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.ops.GemmKernels;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.ops.QuantizedMatMulOps.Dims;
import org.tessel.ir.ops.WeightQuantizer;

/**
 * CPU kernels of the quantized MatMuls ({@link QuantizedMatMulOps}).
 *
 * <p>Weight-only: the codes are unpacked once, when the layer is made, into (code - zero) shorts;
 * each call dequantizes the weights a panel at a time ({@link GemmKernels#sgemm}'s panels of 128 K
 * by up to 512 N, in L2) straight from them and runs the blocked f32 kernel on the panel, so the f32
 * weights never exist whole. Each output's products are added in k order as the reference adds them,
 * so the results are the reference's bit for bit. The output columns are split over threads
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
            short[] centered = new short[cols * k];
            for (int row = 0; row < cols; row++)
                for (int c = 0; c < k; c++) centered[row * k + c] = (short) (WeightQuantizer.code(codes, bits, k, row, c) - z[row * groups + c / group]);
            float[] s = scales.floats().clone();
            return inputs -> {
                Tensor a = inputs.get(0);
                Dims dd = QuantizedMatMulOps.WeightOnlyMatMul.check(a.type(), n.input(1).type(), n.input(2).type(), n.input(3) == null ? null : n.input(3).type(), bits, group);
                float[] x = a.floats(), y = new float[dd.m() * cols];
                int m = dd.m();
                forColumnChunks(m, cols, k, (j0, nc) -> GemmKernels.sgemm(m, nc, k, 1f, x, 0, k, 1, panels(centered, s, k, group, j0), y, j0, cols));
                return List.of(Tensor.ofFloats(a.dtype(), dd.out(), y));
            };
        }

        /** Panels of the dequantized transposed weight, columns from {@code j0}: rows[kk][j] = W[j0 + jb + j, k0 + kk]. */
        static GemmKernels.FloatPanels panels(short[] centered, float[] scales, int k, int group, int j0) {
            int groups = k / group;
            return (k0, kb, jb, nb, rows) -> {
                for (int j = 0; j < nb; j++) {
                    int row = j0 + jb + j, src = row * k + k0, sg = row * groups;
                    for (int kk = 0; kk < kb; kk++) rows[kk][j] = centered[src + kk] * scales[sg + (k0 + kk) / group];
                }
            };
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

package org.tessel.runtime.engine;

import java.util.List;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.ops.LoraOps;

/**
 * CPU kernel of {@code tessel.LoraDelta} ({@link LoraOps}), the batched gather of S-LoRA/Punica's
 * BGMV: each batch row reads its own adapter's slice of the stacked constants. A and B are
 * transposed once, when the layer is made, to [adapter][K][rank] and [adapter][rank][N], so both
 * products are axpys over contiguous vectors (rank-wide, then N-wide) that C2 vectorizes in place
 * of dot products whose ordered sums it cannot; rows without an adapter are skipped (their delta is
 * zero). Each output still adds its products in the reference's order (u over k, then over r), so
 * the values are the reference's bit for bit.
 */
final class LoraKernel implements CpuKernel {
    @Override public Bound bind(Node n) {
        for (int i = 1; i <= 3; i++) if (!n.input(i).isConstant()) return null;
        LoraOps.Dims d = LoraOps.check(n.input(0).type(), n.input(1).type(), n.input(2).type(), n.input(3).type(), n.input(4).type());
        int slots = d.slots(), r = d.rank(), k = d.k(), cols = d.n();
        float[] a = n.input(1).constantValue().floats(), b = n.input(2).constantValue().floats(), scales = n.input(3).constantValue().floats();
        float[] at = new float[slots * k * r], bt = new float[slots * r * cols];
        for (int s = 0; s < slots; s++)
            for (int q = 0; q < r; q++)
                for (int c = 0; c < k; c++) at[(s * k + c) * r + q] = a[(s * r + q) * k + c];
        for (int s = 0; s < slots; s++)
            for (int j = 0; j < cols; j++)
                for (int q = 0; q < r; q++) bt[(s * r + q) * cols + j] = b[(s * cols + j) * r + q];
        return inputs -> {
            Tensor x = inputs.get(0), ids = inputs.get(4);
            LoraOps.Dims dd = LoraOps.check(x.type(), n.input(1).type(), n.input(2).type(), n.input(3).type(), ids.type());
            int[] slot = LoraOps.slots(ids.longs(), slots);
            float[] xs = x.floats(), y = new float[dd.batch() * dd.tokens() * cols], u = new float[r], acc = new float[cols];
            for (int row = 0; row < dd.batch(); row++) {
                int s = slot[row];
                if (s < 0) continue;
                float scale = scales[s];
                for (int t = 0; t < dd.tokens(); t++) {
                    int xi = (row * dd.tokens() + t) * k, yi = (row * dd.tokens() + t) * cols;
                    java.util.Arrays.fill(u, 0f);
                    for (int c = 0; c < k; c++) axpy(xs[xi + c], at, (s * k + c) * r, u, r);
                    java.util.Arrays.fill(acc, 0f);
                    for (int q = 0; q < r; q++) axpy(u[q], bt, (s * r + q) * cols, acc, cols);
                    for (int j = 0; j < cols; j++) y[yi + j] = scale * acc[j];
                }
            }
            return List.of(Tensor.ofFloats(x.dtype(), dd.out(), y));
        };
    }

    private static void axpy(float alpha, float[] x, int offset, float[] acc, int n) {
        for (int j = 0; j < n; j++) acc[j] += alpha * x[offset + j];
    }
}

package org.tessel.ir.ops;

import java.util.Arrays;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * ONNX MatMul with numpy semantics: a 1-D A is a row vector and a 1-D B a column vector (the
 * added axis is removed again from the result), leading axes are batch axes broadcast against
 * each other. Floating types run through {@link GemmKernels}; f16/bf16 are computed in f32 and
 * rounded once; integers are exact with wraparound.
 */
public final class MatMulOp extends BaseOp {
    public MatMulOp() {
        super(def("MatMul", "matrix product with numpy broadcasting of batch axes").inputs(2, 2, "A", "B"));
    }

    /** Batch shape of the result, matrix sizes and the batch shapes of the operands. */
    record Dims(Shape batch, Shape batchA, Shape batchB, int m, int k, int n, Shape out) {}

    static Dims dims(Shape a, Shape b) {
        if (a.rank() == 0 || b.rank() == 0)
            throw new OpException("MatMul needs inputs of rank at least 1, got A " + a + " and B " + b);
        int m = a.rank() == 1 ? 1 : a.dim(-2), k = a.dim(-1);
        int kb = b.rank() == 1 ? b.dim(0) : b.dim(-2), n = b.rank() == 1 ? 1 : b.dim(-1);
        if (k != kb)
            throw new OpException("inner dimensions differ: A " + a + " has " + k + " columns but B " + b + " has " + kb + " rows");
        Shape batchA = Shape.of(Arrays.copyOf(a.dims(), Math.max(0, a.rank() - 2)));
        Shape batchB = Shape.of(Arrays.copyOf(b.dims(), Math.max(0, b.rank() - 2)));
        Shape batch;
        try {
            batch = OpUtil.broadcast(batchA, batchB);
        } catch (OpException e) {
            throw new OpException("batch dimensions of A " + a + " and B " + b + " cannot be broadcast together");
        }
        int[] out = Arrays.copyOf(batch.dims(), batch.rank() + (a.rank() > 1 ? 1 : 0) + (b.rank() > 1 ? 1 : 0));
        int at = batch.rank();
        if (a.rank() > 1) out[at++] = m;
        if (b.rank() > 1) out[at] = n;
        return new Dims(batch, batchA, batchB, m, k, n, Shape.of(out));
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType a = ctx.input(0), b = ctx.input(1);
        NnSupport.requireDType("A", a.dtype(), NnSupport.MATMUL_TYPES);
        NnSupport.requireSameDType("B", b, "A", a.dtype());
        return List.of(TensorType.of(a.dtype(), dims(a.shape(), b.shape()).out()));
    }

    @Override public long macs(InferenceContext ctx, List<TensorType> outputs) {
        Dims d = dims(ctx.input(0).shape(), ctx.input(1).shape());
        return Math.multiplyExact(d.batch().numElements(), Math.multiplyExact((long) d.m() * d.n(), (long) d.k()));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor a = ctx.input(0), b = ctx.input(1);
        Dims d = dims(a.shape(), b.shape());
        int m = d.m(), k = d.k(), n = d.n();
        int batches = (int) d.batch().numElements();
        int[] ia = OpUtil.broadcastIndex(d.batchA(), d.batch()), ib = OpUtil.broadcastIndex(d.batchB(), d.batch());
        // B shared by every batch and A not broadcast: the batches are just more rows of one GEMM
        boolean fold = d.batchB().numElements() == 1 && d.batchA().numElements() == batches;
        DType t = a.dtype();
        switch (t.storage()) {
            case FLOAT -> {
                float[] x = a.floats(), w = b.floats(), y = new float[batches * m * n];
                if (fold) GemmKernels.sgemm(batches * m, n, k, 1f, x, 0, k, 1, GemmKernels.dense(w, 0, n, false), y, 0, n);
                else for (int i = 0; i < batches; i++)
                    GemmKernels.sgemm(m, n, k, 1f, x, ia[i] * m * k, k, 1, GemmKernels.dense(w, ib[i] * k * n, n, false), y, i * m * n, n);
                return List.of(Tensor.ofFloats(t, d.out(), y));
            }
            case DOUBLE -> {
                double[] x = a.doubles(), w = b.doubles(), y = new double[batches * m * n];
                if (fold) GemmKernels.dgemm(batches * m, n, k, 1.0, x, 0, k, 1, GemmKernels.dense(w, 0, n, false), y, 0, n);
                else for (int i = 0; i < batches; i++)
                    GemmKernels.dgemm(m, n, k, 1.0, x, ia[i] * m * k, k, 1, GemmKernels.dense(w, ib[i] * k * n, n, false), y, i * m * n, n);
                return List.of(Tensor.ofDoubles(d.out(), y));
            }
            default -> {
                long[] x = a.longs(), w = b.longs(), y = new long[batches * m * n];
                for (int i = 0; i < batches; i++)
                    GemmKernels.lgemm(m, n, k, x, ia[i] * m * k, k, 1, w, ib[i] * k * n, n, 1, y, i * m * n, n);
                return List.of(Tensor.ofLongs(t, d.out(), y)); // wraps to the element type
            }
        }
    }
}

package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * ONNX Gemm: {@code Y = alpha * A' * B' + beta * C}, A' and B' optionally transposed, C optional
 * and broadcast one way to (M, N). Integer Gemm computes the product exactly and applies alpha and
 * beta in double only when they are not 1.
 */
public final class GemmOp extends BaseOp {
    public GemmOp() {
        super(def("Gemm", "general matrix multiply: alpha * A' * B' + beta * C")
                .inputs(2, 3, "A", "B", "C")
                .floatAttr("alpha", 1f, "scale of the product")
                .floatAttr("beta", 1f, "scale of C")
                .intAttr("transA", 0, "transpose A first (0 or 1)")
                .intAttr("transB", 0, "transpose B first (0 or 1)"));
    }

    record Dims(int m, int k, int n, boolean transA, boolean transB) {}

    static boolean flag(Attributes a, String name) {
        long v = a.getInt(name, 0);
        if (v != 0 && v != 1) throw new OpException("attribute '" + name + "' must be 0 or 1, got " + v);
        return v == 1;
    }

    static Dims dims(Shape a, Shape b, Shape c, Attributes attrs) {
        OpUtil.requireRank("input A", a, 2);
        OpUtil.requireRank("input B", b, 2);
        boolean ta = flag(attrs, "transA"), tb = flag(attrs, "transB");
        int m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
        int kb = tb ? b.dim(1) : b.dim(0), n = tb ? b.dim(0) : b.dim(1);
        if (k != kb)
            throw new OpException("inner dimensions differ: A " + a + (ta ? " (transposed)" : "") + " has " + k + " columns but B " + b
                    + (tb ? " (transposed)" : "") + " has " + kb + " rows");
        if (c != null) {
            boolean ok = c.rank() <= 2;
            for (int i = 0; ok && i < c.rank(); i++) {
                int want = i == c.rank() - 1 ? n : m, got = c.dim(i);
                ok = got == 1 || got == want;
            }
            if (!ok) throw new OpException("input C of shape " + c + " cannot be broadcast to [" + m + "," + n + "]");
        }
        return new Dims(m, k, n, ta, tb);
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        TensorType a = ctx.input(0), b = ctx.input(1);
        NnSupport.requireDType("A", a.dtype(), NnSupport.MATMUL_TYPES);
        NnSupport.requireSameDType("B", b, "A", a.dtype());
        TensorType c = ctx.hasInput(2) ? ctx.input(2) : null;
        if (c != null) NnSupport.requireSameDType("C", c, "A", a.dtype());
        Dims d = dims(a.shape(), b.shape(), c == null ? null : c.shape(), ctx.attrs());
        return List.of(TensorType.of(a.dtype(), d.m(), d.n()));
    }

    @Override public long macs(InferenceContext ctx, List<TensorType> outputs) {
        TensorType c = ctx.hasInput(2) ? ctx.input(2) : null;
        Dims d = dims(ctx.input(0).shape(), ctx.input(1).shape(), c == null ? null : c.shape(), ctx.attrs());
        return Math.multiplyExact((long) d.m() * d.n(), (long) d.k());
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        Tensor a = ctx.input(0), b = ctx.input(1), c = ctx.hasInput(2) ? ctx.input(2) : null;
        Dims d = dims(a.shape(), b.shape(), c == null ? null : c.shape(), ctx.attrs());
        float alpha = ctx.attrs().getFloat("alpha", 1f), beta = ctx.attrs().getFloat("beta", 1f);
        int m = d.m(), k = d.k(), n = d.n();
        // A[i,k] = a[i*aRow + k*aCol]
        int aRow = d.transA() ? 1 : k, aCol = d.transA() ? m : 1;
        int ldb = b.shape().dim(1);
        Shape out = Shape.of(m, n);
        int[] cIdx = c == null ? null : OpUtil.broadcastIndex(c.shape(), out);
        DType t = a.dtype();
        switch (t.storage()) {
            case FLOAT -> {
                float[] y = new float[m * n];
                if (c != null && beta != 0) { float[] cv = c.floats(); for (int i = 0; i < y.length; i++) y[i] = beta * cv[cIdx[i]]; }
                GemmKernels.sgemm(m, n, k, alpha, a.floats(), 0, aRow, aCol, GemmKernels.dense(b.floats(), 0, ldb, d.transB()), y, 0, n);
                return List.of(Tensor.ofFloats(t, out, y));
            }
            case DOUBLE -> {
                double[] y = new double[m * n];
                if (c != null && beta != 0) { double[] cv = c.doubles(); for (int i = 0; i < y.length; i++) y[i] = (double) beta * cv[cIdx[i]]; }
                GemmKernels.dgemm(m, n, k, alpha, a.doubles(), 0, aRow, aCol, GemmKernels.dense(b.doubles(), 0, ldb, d.transB()), y, 0, n);
                return List.of(Tensor.ofDoubles(out, y));
            }
            default -> {
                long[] p = new long[m * n];
                int bRow = d.transB() ? 1 : ldb, bCol = d.transB() ? ldb : 1;
                GemmKernels.lgemm(m, n, k, a.longs(), 0, aRow, aCol, b.longs(), 0, bRow, bCol, p, 0, n);
                Tensor y = Tensor.zeros(t, out);
                long[] cv = c == null ? null : c.longs();
                for (int i = 0; i < p.length; i++) {
                    if (alpha == 1f && (cv == null || beta == 1f)) y.setLong(i, p[i] + (cv == null ? 0 : cv[cIdx[i]]));
                    else y.setDouble(i, (double) alpha * p[i] + (cv == null ? 0 : (double) beta * cv[cIdx[i]]));
                }
                return List.of(y);
            }
        }
    }
}

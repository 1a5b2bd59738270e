package org.tessel.ir.ops;

import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Collectors;
import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/** Type checks and storage conversions shared by the NN ops. */
final class NnSupport {
    private NnSupport() {}

    static final Set<DType> FLOATS = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64);
    static final Set<DType> FLOATS_AND_8BIT = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64, DType.I8, DType.U8);
    /** ONNX's Gemm/MatMul constraint, minus the unsigned 32/64-bit types Tessel has no dtype for. */
    static final Set<DType> MATMUL_TYPES = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64, DType.I32, DType.I64);

    /** Fails unless {@code t} is one of {@code allowed}, naming the input and the accepted types. */
    static void requireDType(String input, DType t, Set<DType> allowed) {
        if (!allowed.contains(t))
            throw new OpException("input " + input + " has element type " + t.text() + "; accepted: "
                    + allowed.stream().map(DType::text).collect(Collectors.joining(", ")));
    }

    static void requireSameDType(String input, TensorType t, String ref, DType want) {
        if (t.dtype() != want)
            throw new OpException("input " + input + " has element type " + t.dtype().text() + " but " + ref + " is " + want.text());
    }

    /** The image dims of an N-C-spatial input: fails unless the rank is 3 to 5. */
    static void requireImage(String input, Shape s) {
        if (s.rank() < 3 || s.rank() > 5)
            throw new OpException("input " + input + " must have rank 3 to 5 (N, C and 1 to 3 spatial axes), got shape " + s);
    }

    static int[] spatial(Shape s) {
        int[] d = new int[s.rank() - 2];
        for (int i = 0; i < d.length; i++) d[i] = s.dim(i + 2);
        return d;
    }

    static int[] concat(int n, int c, int[] spatial) {
        int[] d = new int[spatial.length + 2];
        d[0] = n;
        d[1] = c;
        System.arraycopy(spatial, 0, d, 2, spatial.length);
        return d;
    }

    static long product(int[] v) {
        long p = 1;
        for (int x : v) p *= x;
        return p;
    }

    /** The elements as doubles (a copy; exact for every type but i64 beyond 2^53). */
    static double[] toDoubles(Tensor t) {
        int n = t.size();
        double[] out = new double[n];
        switch (t.dtype().storage()) {
            case FLOAT -> { float[] f = t.floats(); for (int i = 0; i < n; i++) out[i] = f[i]; }
            case DOUBLE -> System.arraycopy(t.doubles(), 0, out, 0, n);
            case LONG -> { long[] l = t.longs(); for (int i = 0; i < n; i++) out[i] = l[i]; }
        }
        return out;
    }

    /** A tensor of {@code dtype} holding {@code v} converted as {@link Tensor#setDouble} does. */
    static Tensor fromDoubles(DType dtype, Shape shape, double[] v) {
        if (dtype == DType.F64) return Tensor.ofDoubles(shape, v);
        Tensor t = Tensor.zeros(dtype, shape);
        if (dtype.storage() == DType.Storage.FLOAT) {
            float[] f = t.floats();
            for (int i = 0; i < v.length; i++) f[i] = Tensor.round(dtype, (float) v[i]);
        } else {
            for (int i = 0; i < v.length; i++) t.setDouble(i, v[i]);
        }
        return t;
    }
}

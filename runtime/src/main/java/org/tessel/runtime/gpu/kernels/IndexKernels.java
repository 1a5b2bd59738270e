package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactics {@code tessel.range}, {@code tessel.trilu}, {@code tessel.cumulative} (CumSum, CumProd), {@code tessel.onehot},
 * {@code tessel.topk}, {@code tessel.scatter_elements} and {@code tessel.scatter_nd} ({@code index.cu}): simple kernels, a
 * thread per output element (per row for the scans), arithmetic in double for floating data and in 64 bits for integers,
 * one rounding into the element type. Elements live as the engine keeps them: f32, f16 or bf16 storage, the device's
 * i32 integers, bool bytes; indices as i32 (OneHot's may also be floating, truncated). TopK ranks each element against
 * its row (O(len^2) a row); the scatters have each output element scan the updates that may land on it (O(total x
 * updates along the axis) for ScatterElements, O(total x tuples) for ScatterND), so duplicates combine in the
 * reference's order without atomics.
 */
public final class IndexKernels {
    private IndexKernels() {}

    static final int BLOCK = 256;
    /** The most axes a ScatterElements table or a ScatterND index tuple describes. */
    public static final int MAX_RANK = 8;

    /** Whether elements of {@code kind} (f32, f16, bf16, i32 or bool, as they live on the device) have kernels here. */
    public static boolean supports(DType kind) { return CudaTypes.supported(kind) || kind == DType.I32 || kind == DType.BOOL; }

    /** The typedefs of T / A for an element kind, and of I for an index kind (i32, or a floating storage type). */
    static String typedefs(DType kind, DType index) {
        String t = switch (kind) {
            case F32, F16, BF16 -> CudaTypes.typedefs("T", kind) + "typedef double A;\n#define LD_A(p, i) ((double) LD_T(p, i))\n#define ST_A(p, i, v) ST_T(p, i, (float) (v))\n";
            case I32 -> "typedef int T;\ntypedef long long A;\n#define LD_A(p, i) ((long long) (p)[i])\n#define ST_A(p, i, v) ((p)[i] = (int) (v))\n";
            case BOOL -> "typedef unsigned char T;\ntypedef long long A;\n#define LD_A(p, i) ((long long) (p)[i])\n#define ST_A(p, i, v) ((p)[i] = (unsigned char) ((v) != 0))\n";
            default -> throw new IllegalArgumentException("index kernels take f32, f16, bf16, i32 or bool elements, got " + kind.text());
        };
        String i = switch (index) {
            case I32 -> "typedef int I;\n#define LD_I(p, i) ((long long) (p)[i])\n";
            case F32, F16, BF16 -> "typedef " + CudaTypes.storage(index) + " I;\n#define LD_I(p, i) ((long long) " + CudaTypes.load(index, "(p)", "i") + ")\n";
            default -> throw new IllegalArgumentException("index kernels take i32 or floating indices, got " + index.text());
        };
        return t + i;
    }

    public static String source(DType kind, DType index) {
        return KernelCompiler.prelude() + typedefs(kind, index) + KernelCompiler.resource("index.cu");
    }

    private static org.tessel.runtime.cuda.CudaKernel kernel(KernelCompiler kc, DType kind, DType index, String fn) {
        return kc.kernel("tessel_index_" + kind.text() + "_i" + index.text() + ".cu", () -> source(kind, index), fn);
    }

    private static int bytes(DType kind) { return kind == DType.BOOL ? 1 : kind == DType.I32 ? 4 : kind.bytes(); }

    private static void check(DeviceBuffer b, DType kind, long elements, String what) {
        if (b.bytes() < elements * bytes(kind))
            throw new IllegalArgumentException(what + " buffer holds " + b.bytes() + " bytes, needs " + elements + " " + kind.text() + " elements");
    }

    private static long product(int[] d, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) p *= d[i];
        return p;
    }

    /** The reduction's number in index.cu: none, add, mul, max, min. */
    public static int reductionCode(String reduction) {
        return switch (reduction) {
            case "none" -> 0;
            case "add" -> 1;
            case "mul" -> 2;
            case "max" -> 3;
            case "min" -> 4;
            default -> throw new IllegalArgumentException("reduction '" + reduction + "' (supported: none, add, mul, max, min)");
        };
    }

    public static KernelLaunch rangeLaunch(long n) { return new KernelLaunch("tessel_range", Launch.gridFor(n, BLOCK), BLOCK, n); }

    /** y[i] = start + i * delta for i < n; start and delta one element each on the device. */
    public static void range(KernelCompiler kc, DType kind, DeviceBuffer start, DeviceBuffer delta, DeviceBuffer y, long n, CudaStream s) {
        check(start, kind, 1, "range start");
        check(delta, kind, 1, "range delta");
        check(y, kind, n, "range output");
        if (n == 0) return;
        KernelLaunch l = rangeLaunch(n);
        l.run(kernel(kc, kind, DType.I32, l.function()), s, start, delta, y);
    }

    public static KernelLaunch triluLaunch(int[] dims, boolean hasK, boolean upper) {
        if (dims.length < 2) throw new IllegalArgumentException("Trilu of rank " + dims.length + " (needs 2 or more)");
        long total = product(dims, 0, dims.length);
        return new KernelLaunch("tessel_trilu", Launch.gridFor(total, BLOCK), BLOCK, total, dims[dims.length - 2], dims[dims.length - 1], hasK ? 1 : 0, upper ? 1 : 0);
    }

    /** y = the upper (lower) triangle of x's last two axes, offset k (k[0], i32 on the device; null: 0); the rest 0. */
    public static void trilu(KernelCompiler kc, DType kind, DeviceBuffer x, DeviceBuffer k, DeviceBuffer y, int[] dims, boolean upper, CudaStream s) {
        KernelLaunch l = triluLaunch(dims, k != null, upper);
        long total = l.scalars()[0];
        check(x, kind, total, "trilu input");
        check(y, kind, total, "trilu output");
        if (k != null) check(k, DType.I32, 1, "trilu k");
        if (total == 0) return;
        l.run(kernel(kc, kind, DType.I32, l.function()), s, x, k != null ? k : x, y);
    }

    public static KernelLaunch cumulativeLaunch(int[] dims, boolean product, boolean exclusive, boolean reverse) {
        long total = product(dims, 0, dims.length);
        return new KernelLaunch("tessel_cumulative", Launch.gridFor(total, BLOCK), BLOCK, dims.length, total, product ? 1 : 0, exclusive ? 1 : 0, reverse ? 1 : 0);
    }

    /** The dims table of a CumSum / CumProd (x's extents as long longs, on the device). */
    public static long[] dimsTable(int[] dims) {
        long[] t = new long[Math.max(1, dims.length)];
        for (int i = 0; i < dims.length; i++) t[i] = dims[i];
        return t;
    }

    /** y = the running sum (product) of x along the axis axis[0] (i32 on the device); dims: {@link #dimsTable} on the device. */
    public static void cumulative(KernelCompiler kc, DType kind, DeviceBuffer x, DeviceBuffer axis, DeviceBuffer y, DeviceBuffer dims, int[] shape,
                                  boolean product, boolean exclusive, boolean reverse, CudaStream s) {
        KernelLaunch l = cumulativeLaunch(shape, product, exclusive, reverse);
        long total = l.scalars()[1];
        check(x, kind, total, "cumulative input");
        check(y, kind, total, "cumulative output");
        check(axis, DType.I32, 1, "cumulative axis");
        if (dims.bytes() < 8L * shape.length) throw new IllegalArgumentException("cumulative dims hold " + dims.bytes() + " bytes, needs " + 8L * shape.length);
        if (total == 0) return;
        l.run(kernel(kc, kind, DType.I32, l.function()), s, x, axis, y, dims);
    }

    public static KernelLaunch oneHotLaunch(int[] indices, int depth, int axis) {
        long total = product(indices, 0, indices.length) * depth;
        return new KernelLaunch("tessel_onehot", Launch.gridFor(total, BLOCK), BLOCK, total, depth, product(indices, axis, indices.length));
    }

    /** y = OneHot(idx, depth, values) with the depth axis at {@code axis} (normalized, 0..rank of indices). */
    public static void oneHot(KernelCompiler kc, DType kind, DType index, DeviceBuffer idx, DeviceBuffer values, DeviceBuffer y, int[] indices, int depth,
                              int axis, CudaStream s) {
        KernelLaunch l = oneHotLaunch(indices, depth, axis);
        long total = l.scalars()[0];
        check(idx, index, product(indices, 0, indices.length), "onehot indices");
        check(values, kind, 2, "onehot values");
        check(y, kind, total, "onehot output");
        if (total == 0) return;
        l.run(kernel(kc, kind, index, l.function()), s, idx, values, y);
    }

    public static KernelLaunch topKLaunch(int[] dims, int axis, int k, boolean largest) {
        long total = product(dims, 0, dims.length);
        return new KernelLaunch("tessel_topk", Launch.gridFor(total, BLOCK), BLOCK, total, dims[axis], product(dims, axis + 1, dims.length), k, largest ? 1 : 0);
    }

    /** The k largest (smallest) elements of x along {@code axis} into values, their indices (i32) into indices, in order. */
    public static void topK(KernelCompiler kc, DType kind, DeviceBuffer x, DeviceBuffer values, DeviceBuffer indices, int[] dims, int axis, int k,
                            boolean largest, CudaStream s) {
        KernelLaunch l = topKLaunch(dims, axis, k, largest);
        long total = l.scalars()[0], out = total / Math.max(1, dims[axis]) * k;
        check(x, kind, total, "topk input");
        check(values, kind, out, "topk values");
        check(indices, DType.I32, out, "topk indices");
        if (out == 0) return;
        l.run(kernel(kc, kind, DType.I32, l.function()), s, x, values, indices);
    }

    /** The ScatterElements table: per axis, data's extent, the indices' extent and the indices' stride. */
    public static long[] scatterElementsTable(int[] data, int[] indices) {
        if (data.length > MAX_RANK) throw new IllegalArgumentException("ScatterElements of rank " + data.length + " (at most " + MAX_RANK + ")");
        if (data.length != indices.length) throw new IllegalArgumentException("ScatterElements indices of rank " + indices.length + ", data of rank " + data.length);
        long[] t = new long[3 * data.length];
        long stride = 1;
        for (int a = data.length - 1; a >= 0; a--) {
            t[3 * a] = data[a];
            t[3 * a + 1] = indices[a];
            t[3 * a + 2] = stride;
            stride *= indices[a];
        }
        return t;
    }

    public static KernelLaunch scatterElementsLaunch(int[] data, int axis, String reduction) {
        long total = product(data, 0, data.length);
        return new KernelLaunch("tessel_scatter_elements", Launch.gridFor(total, BLOCK), BLOCK, data.length, axis, total, reductionCode(reduction));
    }

    /** y = ScatterElements(x, idx, upd) along {@code axis}; table from {@link #scatterElementsTable}, on the device. */
    public static void scatterElements(KernelCompiler kc, DType kind, DeviceBuffer x, DeviceBuffer idx, DeviceBuffer upd, DeviceBuffer y, DeviceBuffer table,
                                       int[] data, int[] indices, int axis, String reduction, CudaStream s) {
        KernelLaunch l = scatterElementsLaunch(data, axis, reduction);
        long total = l.scalars()[2], updates = product(indices, 0, indices.length);
        check(x, kind, total, "scatter_elements data");
        check(idx, DType.I32, updates, "scatter_elements indices");
        check(upd, kind, updates, "scatter_elements updates");
        check(y, kind, total, "scatter_elements output");
        if (table.bytes() < 8L * 3 * data.length) throw new IllegalArgumentException("scatter_elements table holds " + table.bytes() + " bytes, needs " + 24L * data.length);
        if (total == 0) return;
        l.run(kernel(kc, kind, DType.I32, l.function()), s, x, idx, upd, y, table);
    }

    public static KernelLaunch scatterNdLaunch(int[] data, int[] indices, String reduction) {
        int k = indices[indices.length - 1];
        if (k > MAX_RANK) throw new IllegalArgumentException("ScatterND index tuples of " + k + " coordinates (at most " + MAX_RANK + ")");
        long total = product(data, 0, data.length);
        return new KernelLaunch("tessel_scatter_nd", Launch.gridFor(total, BLOCK), BLOCK, k, product(indices, 0, indices.length - 1),
                product(data, k, data.length), total, reductionCode(reduction));
    }

    /** y = ScatterND(x, idx, upd); dims: data's first k extents (long longs) on the device. */
    public static void scatterNd(KernelCompiler kc, DType kind, DeviceBuffer x, DeviceBuffer idx, DeviceBuffer upd, DeviceBuffer y, DeviceBuffer dims,
                                 int[] data, int[] indices, String reduction, CudaStream s) {
        KernelLaunch l = scatterNdLaunch(data, indices, reduction);
        long[] a = l.scalars();
        long k = a[0], tuples = a[1], slice = a[2], total = a[3];
        check(x, kind, total, "scatter_nd data");
        check(idx, DType.I32, tuples * k, "scatter_nd indices");
        check(upd, kind, tuples * slice, "scatter_nd updates");
        check(y, kind, total, "scatter_nd output");
        if (dims.bytes() < 8L * k) throw new IllegalArgumentException("scatter_nd dims hold " + dims.bytes() + " bytes, needs " + 8L * k);
        if (total == 0) return;
        l.run(kernel(kc, kind, DType.I32, l.function()), s, x, idx, upd, y, dims);
    }
}

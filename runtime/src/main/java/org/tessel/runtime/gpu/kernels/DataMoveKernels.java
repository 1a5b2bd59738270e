package org.tessel.runtime.gpu.kernels;

import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;

/**
 * Tactics {@code tessel.slice}, {@code tessel.pad}, {@code tessel.expand}, {@code tessel.tile} (one window-copy kernel:
 * each output element reads one input position computed from a per-axis table, or Pad's fill), {@code tessel.gather_elements},
 * {@code tessel.gather_nd} and {@code tessel.fill} (ConstantOfShape). They move elements of any type as bits (datamove.cu), so one source
 * per element size serves f32, f16, bf16 and the device's i32 integers. The tables and launches are pure functions
 * of shapes and attributes (the engine's layers and the kernel tests compute them the same way).
 */
public final class DataMoveKernels {
    private DataMoveKernels() {}

    /** Threads per block of every kernel here (grid-stride loops). */
    static final int BLOCK = 256;

    /** The most axes a table describes (ONNX models stay far below). */
    public static final int MAX_RANK = 8;

    /** What a window copy does where an input coordinate leaves the input, in the kernel's numbering. */
    public enum Edge { NONE, CONSTANT, REFLECT, EDGE, WRAP }

    /** The CUDA type holding one element of {@code bytes} bytes. */
    static String word(int bytes) {
        return switch (bytes) {
            case 1 -> "unsigned char";
            case 2 -> "unsigned short";
            case 4 -> "unsigned int";
            case 8 -> "unsigned long long";
            default -> throw new IllegalArgumentException("elements of " + bytes + " bytes (supported: 1, 2, 4, 8)");
        };
    }

    public static String source(int elementBytes) {
        return KernelCompiler.prelude() + "typedef " + word(elementBytes) + " E;\n" + KernelCompiler.resource("datamove.cu");
    }

    private static org.tessel.runtime.cuda.CudaKernel kernel(KernelCompiler kc, int elementBytes, String fn) {
        return kc.kernel("tessel_datamove_e" + elementBytes + ".cu", () -> source(elementBytes), fn);
    }

    private static void requireRank(int r) {
        if (r > MAX_RANK) throw new IllegalArgumentException("rank " + r + " exceeds the data-movement kernels' " + MAX_RANK + " axes");
    }

    private static long[] strides(int[] d) {
        long[] s = new long[d.length];
        long p = 1;
        for (int i = d.length - 1; i >= 0; i--) { s[i] = p; p *= d[i]; }
        return s;
    }

    private static long product(int[] d) {
        long p = 1;
        for (int x : d) p *= x;
        return p;
    }

    /** The window-copy table of a Slice of {@code in}: per axis its first index, step and element count (ShapeOps.sliceWindow). */
    public static long[] sliceTable(int[] in, int[] start, int[] step, int[] count) {
        requireRank(in.length);
        long[] st = strides(in), t = new long[5 * in.length + 1];
        for (int a = 0; a < in.length; a++) {
            t[5 * a] = count[a];
            t[5 * a + 1] = in[a];
            t[5 * a + 2] = start[a];
            t[5 * a + 3] = step[a];
            t[5 * a + 4] = st[a];
        }
        return t;
    }

    /** The window-copy table of an Expand (numpy broadcast) of {@code in} to {@code out} (rank >= in's). */
    public static long[] expandTable(int[] in, int[] out) {
        requireRank(out.length);
        if (in.length > out.length) throw new IllegalArgumentException("Expand of rank " + in.length + " to rank " + out.length);
        long[] st = strides(in), t = new long[5 * out.length + 1];
        int off = out.length - in.length;
        for (int a = 0; a < out.length; a++) {
            int src = a - off;
            boolean broadcast = src < 0 || in[src] == 1;
            if (!broadcast && in[src] != out[a]) throw new IllegalArgumentException("Expand of dimension " + in[src] + " to " + out[a]);
            t[5 * a] = out[a];
            t[5 * a + 1] = src < 0 ? 1 : in[src];
            t[5 * a + 2] = 0;
            t[5 * a + 3] = broadcast ? 0 : 1;
            t[5 * a + 4] = src < 0 ? 0 : st[src];
        }
        return t;
    }

    /**
     * The window-copy table of a Tile of {@code in} to {@code out} (out[a] = in[a] x repeats[a]): each output coordinate
     * reads its input axis from 0 on with step 1 and wraps around it ({@link Edge#WRAP}), so out[o] = in[o mod in[a]].
     */
    public static long[] tileTable(int[] in, int[] out) {
        requireRank(out.length);
        if (in.length != out.length) throw new IllegalArgumentException("Tile of rank " + in.length + " to rank " + out.length);
        long[] st = strides(in), t = new long[5 * in.length + 1];
        for (int a = 0; a < in.length; a++) {
            if (in[a] == 0 ? out[a] != 0 : out[a] % in[a] != 0) throw new IllegalArgumentException("Tile of dimension " + in[a] + " to " + out[a]);
            t[5 * a] = out[a];
            t[5 * a + 1] = in[a];
            t[5 * a + 2] = 0;
            t[5 * a + 3] = 1;
            t[5 * a + 4] = st[a];
        }
        return t;
    }

    /**
     * The window-copy table of a Pad of {@code in} by {@code begin} and {@code end} per axis (negative pads crop first,
     * as the reference does, so reflect, edge and wrap read the cropped extent).
     */
    public static long[] padTable(int[] in, long[] begin, long[] end) {
        requireRank(in.length);
        long[] st = strides(in), t = new long[5 * in.length + 1];
        long base = 0;
        for (int a = 0; a < in.length; a++) {
            long lo = Math.max(0, -begin[a]), len = in[a] - lo - Math.max(0, -end[a]);
            t[5 * a] = in[a] + begin[a] + end[a];
            t[5 * a + 1] = len;
            t[5 * a + 2] = -Math.max(0, begin[a]);
            t[5 * a + 3] = 1;
            t[5 * a + 4] = st[a];
            base += lo * st[a];
        }
        t[5 * in.length] = base;
        return t;
    }

    /** The output elements a window-copy table describes. */
    public static long windowTotal(long[] table) {
        long p = 1;
        for (int a = 0; a < (table.length - 1) / 5; a++) p *= table[5 * a];
        return p;
    }

    /** The launch of a window copy over {@code table}; {@code fillBits}: Pad's constant in the element's bits. */
    public static KernelLaunch windowLaunch(long[] table, Edge edge, long fillBits) {
        if (table.length % 5 != 1) throw new IllegalArgumentException("a window table holds 5 values per axis and a base, got " + table.length);
        long total = windowTotal(table);
        return new KernelLaunch("tessel_window_copy", Launch.gridFor(total, BLOCK), BLOCK, (table.length - 1) / 5, total, edge.ordinal(), fillBits);
    }

    /** y = the window of x that {@code table} (on the device, as built by the *Table functions) describes. */
    public static void windowCopy(KernelCompiler kc, int elementBytes, DeviceBuffer x, DeviceBuffer y, DeviceBuffer table, long[] hostTable, Edge edge,
                                  long fillBits, CudaStream stream) {
        KernelLaunch l = windowLaunch(hostTable, edge, fillBits);
        long total = l.scalars()[1];
        check(y, elementBytes, total, "window copy output");
        if (table.bytes() < 8L * hostTable.length) throw new IllegalArgumentException("window table holds " + table.bytes() + " bytes, needs " + 8L * hostTable.length);
        if (total == 0) return;
        l.run(kernel(kc, elementBytes, l.function()), stream, x, y, table);
    }

    /** The GatherElements table: per axis of the indices (= output), its extent and the data's stride. */
    public static long[] gatherElementsTable(int[] data, int[] indices) {
        requireRank(data.length);
        if (data.length != indices.length) throw new IllegalArgumentException("GatherElements indices of rank " + indices.length + ", data of rank " + data.length);
        long[] st = strides(data), t = new long[2 * data.length];
        for (int a = 0; a < data.length; a++) { t[2 * a] = indices[a]; t[2 * a + 1] = st[a]; }
        return t;
    }

    public static KernelLaunch gatherElementsLaunch(int[] data, int[] indices, int axis) {
        long total = product(indices);
        return new KernelLaunch("tessel_gather_elements", Launch.gridFor(total, BLOCK), BLOCK, data.length, axis, data[axis], total);
    }

    /** y = GatherElements(x, idx) along {@code axis}; idx holds i32 indices shaped {@code indices}. */
    public static void gatherElements(KernelCompiler kc, int elementBytes, DeviceBuffer x, DeviceBuffer idx, DeviceBuffer y, DeviceBuffer table,
                                      int[] data, int[] indices, int axis, CudaStream stream) {
        KernelLaunch l = gatherElementsLaunch(data, indices, axis);
        long total = product(indices);
        check(x, elementBytes, product(data), "gather_elements data");
        check(idx, 4, total, "gather_elements indices");
        check(y, elementBytes, total, "gather_elements output");
        if (total == 0) return;
        l.run(kernel(kc, elementBytes, l.function()), stream, x, idx, y, table);
    }

    /** The GatherND table: per indexed axis j (data axis batchDims + j, j below the tuples' length k), its extent and the data's stride. */
    public static long[] gatherNdTable(int[] data, int[] indices, int batchDims) {
        requireRank(data.length);
        int k = gatherNdTupleLength(data, indices, batchDims);
        long[] st = strides(data), t = new long[2 * k];
        for (int j = 0; j < k; j++) { t[2 * j] = data[batchDims + j]; t[2 * j + 1] = st[batchDims + j]; }
        return t;
    }

    private static int gatherNdTupleLength(int[] data, int[] indices, int batchDims) {
        if (indices.length < 1 || batchDims < 0 || batchDims >= Math.min(data.length, indices.length))
            throw new IllegalArgumentException("GatherND of data of rank " + data.length + " by indices of rank " + indices.length + " with batch_dims " + batchDims);
        int k = indices[indices.length - 1];
        if (k > data.length - batchDims) throw new IllegalArgumentException("GatherND tuples of " + k + " coordinates into data of rank " + data.length + ", batch_dims " + batchDims);
        return k;
    }

    /**
     * The launch of a GatherND: scalars k (coordinates a tuple), the elements of a slice, tuples per batch entry, data
     * elements per batch entry, and the output's element count.
     */
    public static KernelLaunch gatherNdLaunch(int[] data, int[] indices, int batchDims) {
        int k = gatherNdTupleLength(data, indices, batchDims), q = indices.length;
        long slice = product(java.util.Arrays.copyOfRange(data, batchDims + k, data.length));
        long perBatch = product(java.util.Arrays.copyOfRange(indices, batchDims, q - 1));
        long batchStride = product(java.util.Arrays.copyOfRange(data, batchDims, data.length));
        long total = product(java.util.Arrays.copyOfRange(indices, 0, q - 1)) * slice;
        return new KernelLaunch("tessel_gather_nd", Launch.gridFor(total, BLOCK), BLOCK, k, slice, perBatch, batchStride, total);
    }

    /** y = GatherND(x, idx) with {@code batchDims} batch axes; idx holds i32 indices shaped {@code indices}, table as {@link #gatherNdTable}. */
    public static void gatherNd(KernelCompiler kc, int elementBytes, DeviceBuffer x, DeviceBuffer idx, DeviceBuffer y, DeviceBuffer table,
                                int[] data, int[] indices, int batchDims, CudaStream stream) {
        KernelLaunch l = gatherNdLaunch(data, indices, batchDims);
        long total = l.scalars()[4];
        check(x, elementBytes, product(data), "gather_nd data");
        check(idx, 4, product(indices), "gather_nd indices");
        check(y, elementBytes, total, "gather_nd output");
        if (table.bytes() < 16L * l.scalars()[0]) throw new IllegalArgumentException("gather_nd table holds " + table.bytes() + " bytes, needs " + 16L * l.scalars()[0]);
        if (total == 0) return;
        l.run(kernel(kc, elementBytes, l.function()), stream, x, idx, y, table);
    }

    public static KernelLaunch fillLaunch(long total, long bits) {
        return new KernelLaunch("tessel_fill", Launch.gridFor(total, BLOCK), BLOCK, total, bits);
    }

    /** Every one of {@code total} elements of y gets {@code bits}. */
    public static void fill(KernelCompiler kc, int elementBytes, DeviceBuffer y, long total, long bits, CudaStream stream) {
        check(y, elementBytes, total, "fill output");
        if (total == 0) return;
        KernelLaunch l = fillLaunch(total, bits);
        l.run(kernel(kc, elementBytes, l.function()), stream, y);
    }

    static void check(DeviceBuffer b, int elementBytes, long elements, String what) {
        if (b.bytes() < elements * elementBytes)
            throw new IllegalArgumentException(what + " buffer holds " + b.bytes() + " bytes, needs " + elements + " elements of " + elementBytes + " bytes");
    }
}

package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactics {@code tessel.resize} (rank-4 nearest/bilinear resize of H and W through host-built tap
 * tables), {@code tessel.reduce} (every ONNX Reduce* kind over the middle axis of [outer, R, inner], or over any
 * set of axes through a per-axis table) and
 * {@code tessel.batchnorm} (per-channel affine y = x * a[c] + b[c]); storage f32, f16 or bf16, math f32.
 */
public final class MoreKernels {
    private MoreKernels() {}

    /** Reduction kinds, in the kernels' numbering (more.cu); the ONNX op of each is {@link #onnxOp}. */
    public enum ReduceOp {
        SUM("ReduceSum"), MEAN("ReduceMean"), MAX("ReduceMax"), MIN("ReduceMin"), PROD("ReduceProd"), SUM_SQUARE("ReduceSumSquare"),
        L1("ReduceL1"), L2("ReduceL2"), LOG_SUM("ReduceLogSum"), LOG_SUM_EXP("ReduceLogSumExp");

        private final String onnxOp;

        ReduceOp(String onnxOp) { this.onnxOp = onnxOp; }

        public String onnxOp() { return onnxOp; }

        /** The kind of an ONNX Reduce* op, or null. */
        public static ReduceOp of(String op) {
            for (ReduceOp r : values()) if (r.onnxOp.equals(op)) return r;
            return null;
        }
    }

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("more.cu");
    }

    private static CudaKernel kernel(KernelCompiler kc, DType t, String fn) {
        CudaTypes.require(t, fn);
        return kc.kernel("tessel_more_" + t.text() + ".cu", () -> source(t), fn);
    }

    /**
     * Resize x [n, c, h, w] (NCHW, or NHWC when {@code nhwc}) to [n, c, oh, ow]; {@code taps} holds
     * 3*oh + 3*ow ints (see more.cu).
     */
    public static void resize(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, DeviceBuffer taps, int n, int c, int h, int w, int oh, int ow,
                              boolean nhwc, boolean nearest, CudaStream stream) {
        long in = (long) n * c * h * w, total = (long) n * c * oh * ow;
        Softmax.check(x, t, in, "resize input");
        Softmax.check(y, t, total, "resize output");
        if (taps.bytes() < 4L * 3 * (oh + ow)) throw new IllegalArgumentException("resize tap table holds " + taps.bytes() + " bytes, needs " + 12L * (oh + ow));
        if (total == 0) return;
        kernel(kc, t, "tessel_resize").launch(Launch.gridFor(total, 256), 256, 0, stream, CudaKernel.args().ptr(x).ptr(y).ptr(taps)
                .i64(total).i32(c).i32(h).i32(w).i32(oh).i32(ow).i32(nhwc ? 1 : 0).i32(nearest ? 1 : 0));
    }

    /**
     * The launch reducing x [outer, r, inner] over its middle axis: one block per row when inner = 1 and r >= 64
     * ({@code tessel_reduce_rows}), else one thread per output ({@code tessel_reduce_cols}).
     */
    public static KernelLaunch reduceLaunch(ReduceOp op, long outer, long r, long inner) {
        if (outer < 0 || r < 0 || inner < 0) throw new IllegalArgumentException("tessel.reduce: bad extents [" + outer + ", " + r + ", " + inner + "]");
        if (inner == 1 && r >= 64)
            return new KernelLaunch("tessel_reduce_rows", (int) Math.max(1, Math.min(outer, 65536L * 8)), Launch.rowBlock((int) Math.min(r, Integer.MAX_VALUE)),
                    outer, r, op.ordinal());
        return new KernelLaunch("tessel_reduce_cols", Launch.gridFor(outer * inner, 256), 256, outer, r, inner, op.ordinal());
    }

    /** Reduces x [outer, r, inner] over its middle axis into y [outer, inner]. */
    public static void reduce(KernelCompiler kc, DType t, ReduceOp op, DeviceBuffer x, DeviceBuffer y, long outer, long r, long inner, CudaStream stream) {
        KernelLaunch l = reduceLaunch(op, outer, r, inner);
        Softmax.check(x, t, outer * r * inner, "reduce input");
        Softmax.check(y, t, outer * inner, "reduce output");
        if (outer * inner == 0) return;
        l.run(kernel(kc, t, l.function()), stream, x, y);
    }

    /**
     * The table of a reduction over any set of axes of a tensor with extents {@code dims}: the kept axes then the
     * reduced ones, each as (extent, stride), outermost first.
     */
    public static long[] stridedReduceTable(int[] dims, boolean[] reduced) {
        long[] st = new long[dims.length];
        long p = 1;
        for (int i = dims.length - 1; i >= 0; i--) { st[i] = p; p *= dims[i]; }
        long[] t = new long[2 * dims.length];
        int k = 0;
        for (boolean pickReduced : new boolean[] {false, true})
            for (int i = 0; i < dims.length; i++)
                if (reduced[i] == pickReduced) { t[k++] = dims[i]; t[k++] = st[i]; }
        return t;
    }

    /** The launch of {@code tessel_reduce_strided} over a {@link #stridedReduceTable} of a tensor with extents {@code dims}. */
    public static KernelLaunch stridedReduceLaunch(ReduceOp op, int[] dims, boolean[] reduced) {
        long kept = 1, r = 1;
        int nk = 0;
        for (int i = 0; i < dims.length; i++) {
            if (reduced[i]) r *= dims[i];
            else { kept *= dims[i]; nk++; }
        }
        return new KernelLaunch("tessel_reduce_strided", Launch.gridFor(kept, 256), 256, nk, dims.length - nk, kept, r, op.ordinal());
    }

    /** The kinds {@code tessel_reduce_strided_i32} computes (exactly, in 64 bits, as the reference does for integers). */
    public static final java.util.Set<ReduceOp> INTEGER_KINDS = java.util.EnumSet.of(ReduceOp.SUM, ReduceOp.MAX, ReduceOp.MIN, ReduceOp.PROD,
            ReduceOp.SUM_SQUARE, ReduceOp.L1);

    /**
     * The launch of the exact kernel over a {@link #stridedReduceTable}: {@code tessel_reduce_strided_i32} for integer data (the
     * device's i32), {@code tessel_reduce_strided_bool} for bool bytes; at least one element per output.
     */
    public static KernelLaunch stridedReduceExactLaunch(ReduceOp op, int[] dims, boolean[] reduced, boolean bool) {
        if (!INTEGER_KINDS.contains(op)) throw new IllegalArgumentException("tessel.reduce has no integer " + op + " (integer kinds: " + INTEGER_KINDS + ")");
        KernelLaunch f = stridedReduceLaunch(op, dims, reduced);
        long[] s = f.scalars();
        if (s[3] == 0) throw new IllegalArgumentException("an empty integer reduction is a fill of its identity, not a kernel launch");
        return new KernelLaunch(bool ? "tessel_reduce_strided_bool" : "tessel_reduce_strided_i32", f.grid(), f.block(), s[0], s[1], s[2], s[3], s[4]);
    }

    /** Reduces i32 (or, when {@code bool}, byte) x with extents {@code dims} over the axes marked {@code reduced} into y, exactly; {@code table}: the device copy of {@link #stridedReduceTable}. */
    public static void reduceStridedExact(KernelCompiler kc, DType t, ReduceOp op, DeviceBuffer x, DeviceBuffer y, DeviceBuffer table, int[] dims, boolean[] reduced,
                                          boolean bool, CudaStream stream) {
        KernelLaunch l = stridedReduceExactLaunch(op, dims, reduced, bool);
        long kept = l.scalars()[2], r = l.scalars()[3];
        DType e = bool ? DType.BOOL : DType.I32;
        Softmax.check(x, e, kept * r, "reduce input");
        Softmax.check(y, e, kept, "reduce output");
        if (table.bytes() < 16L * dims.length) throw new IllegalArgumentException("reduce table holds " + table.bytes() + " bytes, needs " + 16L * dims.length);
        if (kept == 0) return;
        l.run(kernel(kc, t, l.function()), stream, x, y, table);
    }

    /** Reduces x (extents {@code dims}) over the axes marked {@code reduced} into y (the kept axes in order); {@code table} is the device copy of {@link #stridedReduceTable}. */
    public static void reduceStrided(KernelCompiler kc, DType t, ReduceOp op, DeviceBuffer x, DeviceBuffer y, DeviceBuffer table, int[] dims, boolean[] reduced,
                                     CudaStream stream) {
        KernelLaunch l = stridedReduceLaunch(op, dims, reduced);
        long kept = l.scalars()[2], r = l.scalars()[3];
        Softmax.check(x, t, kept * r, "reduce input");
        Softmax.check(y, t, kept, "reduce output");
        if (table.bytes() < 16L * dims.length) throw new IllegalArgumentException("reduce table holds " + table.bytes() + " bytes, needs " + 16L * dims.length);
        if (kept == 0) return;
        l.run(kernel(kc, t, l.function()), stream, x, y, table);
    }

    /** y = x * a[ch] + b[ch] over x [n, c, inner] (NCHW) or [n, inner, c] (NHWC); a and b are f32 [c]. */
    public static void batchnorm(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, DeviceBuffer a, DeviceBuffer b, long n, int c, long inner,
                                 boolean nhwc, CudaStream stream) {
        long total = n * c * inner;
        Softmax.check(x, t, total, "batchnorm input");
        Softmax.check(y, t, total, "batchnorm output");
        if (a.bytes() < 4L * c || b.bytes() < 4L * c) throw new IllegalArgumentException("batchnorm per-channel tables need " + c + " f32 values");
        if (total == 0) return;
        kernel(kc, t, "tessel_batchnorm").launch(Launch.gridFor(total, 256), 256, 0, stream,
                CudaKernel.args().ptr(x).ptr(y).ptr(a).ptr(b).i64(total).i32(c).i64(inner).i32(nhwc ? 1 : 0));
    }
}

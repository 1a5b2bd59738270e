package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.softmax}: softmax over the last axis of a [rows, len] tensor (f32, f16 or bf16); and the rest of
 * the family over the middle axis of [outer, len, inner]: {@code tessel.logsoftmax}, {@code tessel.hardmax},
 * {@code tessel.argmax} / {@code tessel.argmin} (i32 indices), whose launches are pure functions of the extents.
 */
public final class Softmax {
    private Softmax() {}

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("softmax.cu");
    }

    public static void run(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, int rows, int len, CudaStream stream) {
        CudaTypes.require(t, "tessel.softmax");
        if (rows <= 0 || len <= 0) throw new IllegalArgumentException("tessel.softmax: rows and len must be positive, got " + rows + " x " + len);
        check(x, t, (long) rows * len, "input");
        check(y, t, (long) rows * len, "output");
        CudaKernel k = kc.kernel("tessel_softmax_" + t.text() + ".cu", () -> source(t), "tessel_softmax");
        k.launch(rows, Launch.rowBlock(len), 0, stream, CudaKernel.args().ptr(x).ptr(y).i32(rows).i32(len));
    }

    private static CudaKernel kernel(KernelCompiler kc, DType t, String fn) {
        CudaTypes.require(t, fn);
        return kc.kernel("tessel_softmax_" + t.text() + ".cu", () -> source(t), fn);
    }

    private static void requireExtents(String what, long outer, long len, long inner) {
        if (outer < 0 || len < 1 || inner < 0) throw new IllegalArgumentException(what + ": bad extents [" + outer + ", " + len + ", " + inner + "]");
    }

    /** LogSoftmax over the middle axis of [outer, len, inner]: one block per row when inner = 1, else one thread per (outer, inner) pair. */
    public static KernelLaunch logSoftmaxLaunch(long outer, long len, long inner) {
        requireExtents("tessel.logsoftmax", outer, len, inner);
        if (inner == 1) return new KernelLaunch("tessel_logsoftmax_rows", (int) Math.max(1, Math.min(outer, 65536L * 8)), Launch.rowBlock((int) Math.min(len, Integer.MAX_VALUE)), outer, len);
        return new KernelLaunch("tessel_logsoftmax_cols", Launch.gridFor(outer * inner, 256), 256, outer, len, inner);
    }

    public static void logSoftmax(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, long outer, long len, long inner, CudaStream stream) {
        KernelLaunch l = logSoftmaxLaunch(outer, len, inner);
        check(x, t, outer * len * inner, "logsoftmax input");
        check(y, t, outer * len * inner, "logsoftmax output");
        if (outer * inner == 0) return;
        l.run(kernel(kc, t, l.function()), stream, x, y);
    }

    /** Hardmax over the middle axis of [outer, len, inner]: one thread per (outer, inner) pair. */
    public static KernelLaunch hardmaxLaunch(long outer, long len, long inner) {
        requireExtents("tessel.hardmax", outer, len, inner);
        return new KernelLaunch("tessel_hardmax", Launch.gridFor(outer * inner, 256), 256, outer, len, inner);
    }

    public static void hardmax(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, long outer, long len, long inner, CudaStream stream) {
        KernelLaunch l = hardmaxLaunch(outer, len, inner);
        check(x, t, outer * len * inner, "hardmax input");
        check(y, t, outer * len * inner, "hardmax output");
        if (outer * inner == 0) return;
        l.run(kernel(kc, t, l.function()), stream, x, y);
    }

    /** ArgMax (ArgMin when {@code min}) over the middle axis of [outer, len, inner] into i32 [outer, inner]; {@code integer}: i32 data, compared exactly. */
    public static KernelLaunch argLaunch(long outer, long len, long inner, boolean min, boolean selectLast, boolean integer) {
        requireExtents(min ? "tessel.argmin" : "tessel.argmax", outer, len, inner);
        return new KernelLaunch(integer ? "tessel_arg_reduce_i32" : "tessel_arg_reduce", Launch.gridFor(outer * inner, 256), 256, outer, len, inner, min ? 1 : 0,
                selectLast ? 1 : 0);
    }

    /** As {@link #argLaunch}; x is in storage {@code t}, or i32 when {@code integer}. */
    public static void argReduce(KernelCompiler kc, DType t, DeviceBuffer x, DeviceBuffer y, long outer, long len, long inner, boolean min, boolean selectLast,
                                 boolean integer, CudaStream stream) {
        KernelLaunch l = argLaunch(outer, len, inner, min, selectLast, integer);
        check(x, integer ? DType.I32 : t, outer * len * inner, "arg-reduce input");
        check(y, DType.I32, outer * inner, "arg-reduce output");
        if (outer * inner == 0) return;
        l.run(kernel(kc, t, l.function()), stream, x, y);
    }

    static void check(DeviceBuffer b, DType t, long elements, String what) {
        if (b.bytes() < elements * t.bytes())
            throw new IllegalArgumentException(what + " buffer holds " + b.bytes() + " bytes, needs " + elements + " " + t.text() + " elements");
    }
}

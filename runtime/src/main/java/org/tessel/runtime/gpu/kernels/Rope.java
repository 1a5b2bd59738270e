package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.rope} ({@code rope.cu}): a rotary embedding, {@code y = x * cos + rotate_half(x) * sin} over x's
 * last axis, as one kernel, a thread per pair (i, i + D/2) of one row, f32 math; cos and sin of one shape broadcast onto
 * x (a decoder's [batch, 1, seq, D] against [batch, heads, seq, D], or [batch, seq, 1, D] against [batch, seq, heads, D]).
 * x, cos, sin and y in one storage type (f32, f16 or bf16).
 */
public final class Rope {
    private Rope() {}

    /** Threads per block. */
    public static final int THREADS = 256;
    /** Most leading (non-last) dimensions of x the kernel indexes. */
    public static final int MAX_LEADING = 4;

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("rope.cu");
    }

    /** Why x of shape {@code x} with cos/sin of shape {@code cs} cannot run (null: it can). */
    public static String whyNot(Shape x, Shape cs) {
        if (x.rank() < 1 || x.rank() - 1 > MAX_LEADING) return "rotates tensors of rank 1 to " + (MAX_LEADING + 1) + " (got rank " + x.rank() + ")";
        int d = x.dim(-1);
        if (d % 2 != 0 || d == 0) return "needs an even, non-zero last dimension (got " + d + ")";
        if (cs.rank() > x.rank() || cs.rank() < 1 || cs.dim(-1) != d) return "needs cos and sin with x's last dimension " + d + " (got " + cs + ")";
        int off = x.rank() - cs.rank();
        for (int i = 0; i < cs.rank(); i++)
            if (cs.dim(i) != 1 && cs.dim(i) != x.dim(off + i)) return "needs cos and sin " + cs + " to broadcast onto x " + x;
        if (x.numElements() / 2 > Integer.MAX_VALUE || cs.numElements() > Integer.MAX_VALUE) return "indexes at most 2^31 pairs (x " + x + ")";
        return null;
    }

    /**
     * For each leading (non-last) axis of x, the elements between consecutive cos/sin rows along it: 0 where cos and sin
     * broadcast over the axis (size 1, or an axis they lack); {@link #whyNot} must accept the shapes.
     */
    public static long[] rowStrides(Shape xs, Shape cs) {
        int lead = xs.rank() - 1, off = xs.rank() - cs.rank();
        long[] strides = new long[lead];
        long stride = cs.dim(-1);
        for (int k = lead - 1; k >= 0; k--) {
            int ck = k - off;
            if (ck < 0) continue;
            strides[k] = cs.dim(ck) == 1 ? 0 : stride;
            stride *= cs.dim(ck);
        }
        return strides;
    }

    /**
     * Launches y = rope(x, cos, sin) on {@code stream}, x and y of shape {@code xs}, cos and sin of shape {@code cs}, all in
     * {@code t}; refuses, before any launch, shapes {@link #whyNot} refuses and buffers too small for them.
     */
    public static void launch(KernelCompiler kc, DType t, Shape xs, Shape cs, DeviceBuffer x, DeviceBuffer cos, DeviceBuffer sin, DeviceBuffer y, CudaStream stream) {
        CudaTypes.require(t, "tessel.rope");
        String why = whyNot(xs, cs);
        if (why != null) throw new IllegalArgumentException("tessel.rope " + why);
        Softmax.check(x, t, xs.numElements(), "input");
        Softmax.check(y, t, xs.numElements(), "output");
        Softmax.check(cos, t, cs.numElements(), "cos");
        Softmax.check(sin, t, cs.numElements(), "sin");
        int half = xs.dim(-1) / 2, pairs = (int) (xs.numElements() / 2);
        if (pairs == 0) return;
        // x's leading dims padded in front to MAX_LEADING, and cos/sin's row strides over them (0 where broadcast)
        int[] dims = {1, 1, 1, 1}, strides = {0, 0, 0, 0};
        int lead = xs.rank() - 1;
        long[] rs = rowStrides(xs, cs);
        for (int k = 0; k < lead; k++) {
            dims[MAX_LEADING - lead + k] = xs.dim(k);
            strides[MAX_LEADING - lead + k] = (int) rs[k];
        }
        CudaKernel k = kc.kernel("tessel_rope_" + t.text() + ".cu", () -> source(t), "tessel_rope");
        k.launch((pairs + THREADS - 1) / THREADS, THREADS, 0, stream, CudaKernel.args().ptr(x).ptr(cos).ptr(sin).ptr(y).i32(pairs).i32(half)
                .i32(dims[0]).i32(dims[1]).i32(dims[2]).i32(dims[3]).i32(strides[0]).i32(strides[1]).i32(strides[2]).i32(strides[3]));
    }
}

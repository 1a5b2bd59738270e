package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.attention.fused}: O = softmax(scale Q K^T + mask) V in one kernel for
 * encoder-sized sequences (written for up to 512 keys; longer ones work, more slowly). Q and O
 * are [batch*heads, Sq, D], K and V [batch*heads, Sk, D], D at most 128; the optional f32 mask is
 * additive, [batch, Sk], shared by all heads and queries.
 */
public final class FusedAttention {
    private FusedAttention() {}

    public static final int MAX_HEAD_DIM = 128;
    static final int WARPS = 8;

    public static String source(DType t, int headDim) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + "#define HEAD_DIM " + headDim + "\n" + KernelCompiler.resource("attention.cu");
    }

    public static void run(KernelCompiler kc, DType t, int batchHeads, int heads, int sq, int sk, int headDim, float scale,
                           DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer mask, DeviceBuffer o, CudaStream stream) {
        CudaTypes.require(t, "tessel.attention.fused");
        if (headDim <= 0 || headDim > MAX_HEAD_DIM) throw new IllegalArgumentException("tessel.attention.fused: head size must be 1.." + MAX_HEAD_DIM + ", got " + headDim);
        if (heads <= 0 || batchHeads % heads != 0) throw new IllegalArgumentException("tessel.attention.fused: " + batchHeads + " batch*heads rows are not a multiple of " + heads + " heads");
        if (batchHeads > 65535) throw new IllegalArgumentException("tessel.attention.fused: batch*heads " + batchHeads + " exceeds the grid's y limit 65535");
        Softmax.check(q, t, (long) batchHeads * sq * headDim, "Q");
        Softmax.check(k, t, (long) batchHeads * sk * headDim, "K");
        Softmax.check(v, t, (long) batchHeads * sk * headDim, "V");
        Softmax.check(o, t, (long) batchHeads * sq * headDim, "output");
        if (mask != null) Softmax.check(mask, DType.F32, (long) (batchHeads / heads) * sk, "mask");
        CudaKernel kern = kc.kernel("tessel_attention_" + t.text() + "_d" + headDim + ".cu", () -> source(t, headDim), "tessel_attention");
        kern.launch((sq + WARPS - 1) / WARPS, batchHeads, 1, WARPS * 32, 1, 1, 0, stream, CudaKernel.args().ptr(q).ptr(k).ptr(v)
                .ptr(mask == null ? 0 : mask.address()).ptr(o).i32(sq).i32(sk).i32(heads).f32(scale));
    }
}

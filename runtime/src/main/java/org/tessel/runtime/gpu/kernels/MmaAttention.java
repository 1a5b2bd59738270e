package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * {@code tessel.attention.mma}: scaled dot-product attention on tensor cores (mma.sync m16n8k16, f16
 * operands, f32 accumulate, f32 online softmax) reading Q, K, V and writing O as [B, S, H*D] rows,
 * like {@code tessel.attention.bshd} (same arguments and strides), with no score matrix in memory.
 * Template: {@code attention_mma.cu}. {@link #unsupportedReason} says when it cannot run; the engine
 * falls back to {@code tessel.attention.bshd} then, and {@link #preferred} is the shape rule.
 */
public final class MmaAttention {
    private MmaAttention() {}

    /** Queries per block (4 warps of 16 rows) and the largest head size the registers hold. */
    public static final int BLOCK_QUERIES = 64, MAX_HEAD_DIM = 128;

    public static String source(int headDim) { return source(headDim, false); }

    /** The kernel for a key mask (or none), or with {@code perQueryMask} for a per-query mask [B|1,1,Sq,Sk]. */
    public static String source(int headDim, boolean perQueryMask) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", DType.F16) + "#define HEAD_DIM " + headDim + "\n"
                + (perQueryMask ? "#define PER_QUERY_MASK 1\n" : "") + KernelCompiler.resource("mma.cuh") + KernelCompiler.resource("attention_mma.cu");
    }

    /**
     * Why the tensor-core kernel cannot take these operands ({@code null}: it can): f16 storage, a head
     * size that is a multiple of 16 up to 128, row strides that are multiples of 8 elements and
     * 16-byte aligned buffers (vector loads of K and V, 32-bit loads of Q, 32-bit stores of O).
     */
    public static String unsupportedReason(DType t, int batch, int heads, int headDim, TransformerKernels.AttentionStrides ld, DeviceBuffer... buffers) {
        if (t != DType.F16) return "storage " + t.text() + " (the tensor-core kernel takes f16)";
        if (headDim <= 0 || headDim % 16 != 0 || headDim > MAX_HEAD_DIM) return "head size " + headDim + " (needs a multiple of 16 up to " + MAX_HEAD_DIM + ")";
        if ((long) batch * heads > 65535) return "batch*heads " + (long) batch * heads + " exceeds the grid's y limit 65535";
        for (long l : new long[] {ld.ldq(), ld.ldk(), ld.ldv(), ld.ldo()})
            if (l % 8 != 0) return "row stride " + l + " is not a multiple of 8 elements";
        for (DeviceBuffer b : buffers)
            if (b != null && b.address() % 16 != 0) return "a buffer is not 16-byte aligned";
        return null;
    }

    /** O = softmax(scale Q K^T + mask) V; arguments as {@link TransformerKernels#attention}; a row whose every score is -inf gives 0. */
    public static void run(KernelCompiler kc, DType t, int batch, int heads, int sq, int sk, int headDim, float scale,
                           DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer mask, DeviceBuffer o,
                           TransformerKernels.AttentionStrides ld, CudaStream s) {
        run(kc, t, batch, heads, sq, sk, headDim, scale, q, k, v, mask, o, ld, true, s);
    }

    /**
     * As above; {@code nanGuard}: a row whose every score is -inf gives 0 (SDPA's Where(IsNaN(p), 0, p)), else
     * NaN (Softmax's). A per-query mask ({@code ld.maskQuery() != 0}) runs its own compiled variant, so the
     * key-mask kernel is unchanged.
     */
    public static void run(KernelCompiler kc, DType t, int batch, int heads, int sq, int sk, int headDim, float scale,
                           DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer mask, DeviceBuffer o,
                           TransformerKernels.AttentionStrides ld, boolean nanGuard, CudaStream s) {
        String why = unsupportedReason(t, batch, heads, headDim, ld, q, k, v, mask, o);
        if (why != null) throw new IllegalArgumentException("tessel.attention.mma: " + why);
        Softmax.check(q, t, ((long) batch * sq - 1) * ld.ldq() + (long) heads * headDim, "Q");
        Softmax.check(k, t, ((long) batch * sk - 1) * ld.ldk() + (long) heads * headDim, "K");
        Softmax.check(v, t, ((long) batch * sk - 1) * ld.ldv() + (long) heads * headDim, "V");
        Softmax.check(o, t, ((long) batch * sq - 1) * ld.ldo() + (long) heads * headDim, "output");
        if (mask != null) Softmax.check(mask, t, ld.maskElements(batch, sq, sk), "mask");
        if (sq <= 0 || sk <= 0) return;
        boolean perQuery = mask != null && ld.maskQuery() != 0;
        CudaKernel kern = kc.kernel("tessel_attention_mma_d" + headDim + (perQuery ? "_qmask" : "") + ".cu", () -> source(headDim, perQuery), "tessel_attention_mma");
        kern.launch((sq + BLOCK_QUERIES - 1) / BLOCK_QUERIES, batch * heads, 1, 128, 1, 1, 0, s,
                CudaKernel.args().ptr(q).ptr(k).ptr(v).ptr(mask == null ? 0 : mask.address()).ptr(o).i32(sq).i32(sk).i32(heads)
                        .i64(ld.ldq()).i64(ld.ldk()).i64(ld.ldv()).i64(ld.ldo()).i64(ld.maskBatch()).i64(ld.maskQuery()).f32(scale).i32(nanGuard ? 0 : 1));
    }
}

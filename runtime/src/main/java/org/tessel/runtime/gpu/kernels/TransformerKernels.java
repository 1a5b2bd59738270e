package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * The transformer engines' own kernels: {@code tessel.gather} (embedding lookup, token select),
 * {@code tessel.transpose} (any permutation, generated per shape),
 * {@code tessel.gelu.erf} (exact GELU after a cuBLASLt bias epilogue) and
 * {@code tessel.attention.bshd} (attention reading Q, K, V as [B, S, H*D] rows, CUDA cores).
 * Templates: {@code transformer.cu}, {@code attention_bshd.cu}.
 */
public final class TransformerKernels {
    private TransformerKernels() {}

    static final int BLOCK = 256;

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t)
                + "#define LD4_T tessel_ld4_" + t.text() + "\n#define ST4_T tessel_st4_" + t.text() + "\n"
                + KernelCompiler.resource("transformer.cu");
    }

    private static CudaKernel kernel(KernelCompiler kc, DType t, String name) {
        CudaTypes.require(t, name);
        return kc.kernel("tessel_transformer_" + t.text() + ".cu", () -> source(t), name);
    }

    /** out[o][j][c] = data[o][idx[j]][c]: {@code idx} holds {@code nidx} 32-bit indices into an axis of {@code axis} entries. */
    public static void gather(KernelCompiler kc, DType t, DeviceBuffer data, DeviceBuffer idx, DeviceBuffer out,
                              long outer, int axis, long nidx, long inner, CudaStream s) {
        long n = outer * nidx * inner;
        Softmax.check(data, t, outer * axis * inner, "gather data");
        Softmax.check(out, t, n, "gather output");
        if (idx.bytes() < 4 * nidx) throw new IllegalArgumentException("tessel.gather: index buffer holds " + idx.bytes() / 4 + " ints, needs " + nidx);
        if (n == 0) return;
        kernel(kc, t, "tessel_gather").launch(Launch.gridFor(n, BLOCK), BLOCK, 0, s,
                CudaKernel.args().ptr(data).ptr(idx).ptr(out).i64(outer).i32(axis).i64(nidx).i64(inner));
    }

    /** y = gelu_erf(y) in place over n elements. */
    public static void geluErf(KernelCompiler kc, DType t, DeviceBuffer y, long n, CudaStream s) {
        Softmax.check(y, t, n, "gelu");
        if (n == 0) return;
        if (n % 4 == 0 && n < Integer.MAX_VALUE && y.address() % (4L * t.bytes()) == 0)
            kernel(kc, t, "tessel_gelu_erf_vec4").launch(Launch.gridFor(n / 4, BLOCK), BLOCK, 0, s, CudaKernel.args().ptr(y).i32((int) n));
        else kernel(kc, t, "tessel_gelu_erf").launch(Launch.gridFor(n, BLOCK), BLOCK, 0, s, CudaKernel.args().ptr(y).i64(n));
    }

    /** y = tanh(y) in place over n elements. */
    public static void tanh(KernelCompiler kc, DType t, DeviceBuffer y, long n, CudaStream s) {
        Softmax.check(y, t, n, "tanh");
        if (n == 0) return;
        kernel(kc, t, "tessel_tanh").launch(Launch.gridFor(n, BLOCK), BLOCK, 0, s, CudaKernel.args().ptr(y).i64(n));
    }

    /** The source of a transpose of a tensor of {@code dims} by {@code perm} (output dim k is input dim perm[k]). */
    public static String transposeSource(DType t, int[] dims, int[] perm) {
        int r = dims.length;
        if (perm.length != r) throw new IllegalArgumentException("perm " + java.util.Arrays.toString(perm) + " does not match rank " + r);
        long[] inStride = new long[r];
        long st = 1;
        for (int k = r - 1; k >= 0; k--) { inStride[k] = st; st *= dims[k]; }
        StringBuilder c = new StringBuilder(KernelCompiler.prelude()).append(CudaTypes.typedefs("T", t));
        c.append("// tessel.transpose of ").append(java.util.Arrays.toString(dims)).append(" by perm ").append(java.util.Arrays.toString(perm)).append('\n');
        c.append("extern \"C\" __global__ void tessel_transpose(const T* __restrict__ in, T* __restrict__ out, long long n) {\n");
        c.append("    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {\n");
        c.append("        long long r = i, off = 0, c;\n");
        for (int k = r - 1; k >= 0; k--) {
            int od = dims[perm[k]];
            c.append("        c = r % ").append(od).append("; r /= ").append(od).append("; off += c * ").append(inStride[perm[k]]).append("LL;\n");
        }
        c.append("        out[i] = in[off];\n    }\n}\n");
        return c.toString();
    }

    public static void transpose(KernelCompiler kc, DType t, int[] dims, int[] perm, DeviceBuffer in, DeviceBuffer out, CudaStream s) {
        long n = 1;
        for (int d : dims) n *= d;
        Softmax.check(in, t, n, "transpose input");
        Softmax.check(out, t, n, "transpose output");
        if (n == 0) return;
        String name = "tessel_transpose_" + t.text() + "_" + java.util.Arrays.toString(dims).replaceAll("[^0-9]+", "_") + "p" + java.util.Arrays.toString(perm).replaceAll("[^0-9]+", "_") + ".cu";
        kc.kernel(name, () -> transposeSource(t, dims, perm), "tessel_transpose").launch(Launch.gridFor(n, BLOCK), BLOCK, 0, s, CudaKernel.args().ptr(in).ptr(out).i64(n));
    }

    public static String attentionSource(DType t, int headDim) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + "#define HEAD_DIM " + headDim + "\n" + KernelCompiler.resource("attention_bshd.cu");
    }

    /**
     * Row strides (elements) of Q, K, V, O, the mask's batch stride (0: one mask for every batch) and its
     * query stride (0: a key mask [B|1,1,1,Sk], one row for every query; Sk: a per-query mask [B|1,1,Sq,Sk]).
     * The mask is broadcast over heads either way.
     */
    public record AttentionStrides(long ldq, long ldk, long ldv, long ldo, long maskBatch, long maskQuery) {
        /** A key mask (or none). */
        public AttentionStrides(long ldq, long ldk, long ldv, long ldo, long maskBatch) { this(ldq, ldk, ldv, ldo, maskBatch, 0); }

        /** Elements the mask must hold for {@code batch} batches of {@code sq} x {@code sk}. */
        long maskElements(int batch, int sq, int sk) { return (long) (batch - 1) * maskBatch + (long) (sq - 1) * maskQuery + sk; }
    }

    /**
     * O = softmax(scale Q K^T + mask) V for {@code batch} x {@code heads} heads of size {@code headDim},
     * Q/O rows of {@code sq} tokens and K/V rows of {@code sk}, every operand in [B, S, H*D] rows. A row
     * whose every score is -inf gives 0 (SDPA's NaN guard); see the overload to get Softmax's NaN.
     */
    public static void attention(KernelCompiler kc, DType t, int batch, int heads, int sq, int sk, int headDim, float scale,
                                 DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer mask, DeviceBuffer o,
                                 AttentionStrides ld, CudaStream s) {
        attention(kc, t, batch, heads, sq, sk, headDim, scale, q, k, v, mask, o, ld, true, s);
    }

    /**
     * As above; {@code nanGuard}: a row whose every score is -inf gives 0, as under SDPA's
     * Where(IsNaN(softmax), 0, softmax), else NaN, as a plain Softmax gives.
     */
    public static void attention(KernelCompiler kc, DType t, int batch, int heads, int sq, int sk, int headDim, float scale,
                                 DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer mask, DeviceBuffer o,
                                 AttentionStrides ld, boolean nanGuard, CudaStream s) {
        CudaTypes.require(t, "tessel.attention.bshd");
        if (headDim <= 0 || headDim > FusedAttention.MAX_HEAD_DIM) throw new IllegalArgumentException("tessel.attention.bshd: head size must be 1.." + FusedAttention.MAX_HEAD_DIM + ", got " + headDim);
        if ((long) batch * heads > 65535) throw new IllegalArgumentException("tessel.attention.bshd: batch*heads " + batch * heads + " exceeds the grid's y limit 65535");
        Softmax.check(q, t, ((long) batch * sq - 1) * ld.ldq() + (long) heads * headDim, "Q");
        Softmax.check(k, t, ((long) batch * sk - 1) * ld.ldk() + (long) heads * headDim, "K");
        Softmax.check(v, t, ((long) batch * sk - 1) * ld.ldv() + (long) heads * headDim, "V");
        Softmax.check(o, t, ((long) batch * sq - 1) * ld.ldo() + (long) heads * headDim, "output");
        if (mask != null) Softmax.check(mask, t, ld.maskElements(batch, sq, sk), "mask");
        CudaKernel kern = kc.kernel("tessel_attention_bshd_" + t.text() + "_d" + headDim + ".cu", () -> attentionSource(t, headDim), "tessel_attention_bshd");
        kern.launch((sq + FusedAttention.WARPS - 1) / FusedAttention.WARPS, batch * heads, 1, FusedAttention.WARPS * 32, 1, 1, 0, s,
                CudaKernel.args().ptr(q).ptr(k).ptr(v).ptr(mask == null ? 0 : mask.address()).ptr(o).i32(sq).i32(sk).i32(heads)
                        .i64(ld.ldq()).i64(ld.ldk()).i64(ld.ldv()).i64(ld.ldo()).i64(ld.maskBatch()).i64(ld.maskQuery()).f32(scale).i32(nanGuard ? 0 : 1));
    }
}

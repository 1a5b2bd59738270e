package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.tactics.gemm.QuantizedMatMulTactic;

/**
 * Tactic {@code tessel.gemm.weight_only}: {@code tessel.WeightOnlyMatMul} for any number of activation rows, in three
 * forms ({@link Form}), the tactic's variants: {@code tiled} ({@code weight_only_gemm.cu}: 64x64 output tiles of 16x16
 * threads, each K slice of the codes dequantized once into shared memory, f32 math in k order, any K the op allows),
 * {@code mma} ({@code weight_only_gemm_mma.cu}: 64x64 tiles of 4 warps on tensor cores, f16 activations, the slices'
 * code differences exact in f16 and each slice's sums scaled once; {@link QuantizedMatMulTactic#gemmMmaWhyNot}) and
 * {@code dequant} ({@code weight_only_dequant.cu} writes the dequantized weight, rounded to the activation type, into
 * the stream's workspace, and cuBLASLt multiplies it: {@link #dequantThenGemm}; K and the group size multiples of 8).
 */
public final class WeightOnlyGemm {
    private WeightOnlyGemm() {}

    /** Output tile side of the tiled and mma forms. */
    public static final int TILE = 64;

    /** The kernel's forms, each the tactic's variant of the same name. */
    public enum Form {
        TILED(QuantizedMatMulTactic.GEMM_TILED), MMA(QuantizedMatMulTactic.GEMM_MMA), DEQUANT(QuantizedMatMulTactic.GEMM_DEQUANT);

        /** The form as the tactic's variant ({@code tessel.gemm.weight_only/VARIANT}). */
        public final String variant;

        Form(String variant) { this.variant = variant; }

        /** The form a variant names, or null when it names none. */
        public static Form ofVariant(String variant) {
            for (Form f : values()) if (f.variant.equals(variant)) return f;
            return null;
        }
    }

    /** Why {@code form} cannot run activations {@code t} of K={@code k} with group size {@code group} (null: it can). */
    public static String formWhyNot(Form form, DType t, int k, int group) {
        return switch (form) {
            case TILED -> null;
            case MMA -> QuantizedMatMulTactic.gemmMmaWhyNot(t, k, group);
            case DEQUANT -> QuantizedMatMulTactic.gemmDequantWhyNot(k, group);
        };
    }

    /** The K slices the tensor-core form can take: 32, or 64 where K and the group size are multiples of 64. */
    public static final int MMA_SLICE = 32, MMA_WIDE_SLICE = 64;

    /**
     * The tensor-core form's K slice for K={@code k} and group size {@code group}: 64 where both are multiples of it, else
     * 32. On an H100 (2026-12-07, QuantizedGemvBench, INT4 g128) slices of 64 were faster on 9 of llama-1b's 10 prefill
     * GEMMs at 128 and 512 rows (q/o at 128 rows 25.1 against 35.3 us, gate/up at 512 93.7 against 116.8), and 5% slower
     * on q/o at 512 (47.1 against 44.9).
     */
    public static int mmaSlice(int k, int group) { return k % MMA_WIDE_SLICE == 0 && group % MMA_WIDE_SLICE == 0 ? MMA_WIDE_SLICE : MMA_SLICE; }

    public static String source(DType t, DType scaleType, int bits, Form form) { return source(t, scaleType, bits, form, MMA_SLICE); }

    /** As above; {@code slice}: the tensor-core form's K slice (32 or 64; the tiled form's is fixed). */
    public static String source(DType t, DType scaleType, int bits, Form form, int slice) {
        if (slice != MMA_SLICE && slice != MMA_WIDE_SLICE) throw new IllegalArgumentException("the mma tessel_gemm_wo takes K slices of 32 or 64, got " + slice);
        CudaTypes.require(t, "tessel_gemm_wo activations");
        CudaTypes.require(scaleType, "tessel_gemm_wo scales");
        if (bits != 4 && bits != 8) throw new IllegalArgumentException("bits must be 4 or 8, got " + bits);
        if (form == Form.MMA && t != DType.F16) throw new IllegalArgumentException("the mma tessel_gemm_wo takes f16 activations, got " + t.text());
        String head = KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + CudaTypes.typedefs("S", scaleType) + "#define WO_BITS " + bits + "\n";
        return switch (form) {
            case TILED -> head + KernelCompiler.resource("weight_only_gemm.cu");
            case MMA -> head + "#define WM_BK " + slice + "\n" + KernelCompiler.resource("mma.cuh") + KernelCompiler.resource("weight_only_gemm_mma.cu");
            case DEQUANT -> head + KernelCompiler.resource("weight_only_dequant.cu");
        };
    }

    /** y[m, n] = x[m, k] dequantize(W)^T by {@code form} (which must run it: {@link #formWhyNot}); operands as {@link WeightOnlyGemv#launch} takes them. */
    public static void run(KernelCompiler kc, DType t, DType scaleType, int bits, int group, int m, int n, int k, DeviceBuffer x,
                           DeviceBuffer codes, DeviceBuffer scales, DeviceBuffer zeros, DeviceBuffer y, CudaStream stream, Form form) {
        run(kc, t, scaleType, bits, group, m, n, k, x, codes, scales, zeros, y, stream, form, MMA_SLICE);
    }

    /** As above, the tensor-core form in K slices of {@code slice} (32, or 64 where K and the group size are multiples of 64). */
    public static void run(KernelCompiler kc, DType t, DType scaleType, int bits, int group, int m, int n, int k, DeviceBuffer x,
                           DeviceBuffer codes, DeviceBuffer scales, DeviceBuffer zeros, DeviceBuffer y, CudaStream stream, Form form, int slice) {
        if (form == Form.MMA && (k % slice != 0 || group % slice != 0))
            throw new IllegalArgumentException("weight-only GEMM: K slices of " + slice + " lie in one group: K=" + k + " and group size " + group + " must be multiples of " + slice);
        if (group < 1 || k % group != 0) throw new IllegalArgumentException("weight-only GEMM: group size " + group + " does not divide K=" + k);
        if (form == Form.DEQUANT) throw new IllegalArgumentException("weight-only GEMM: the dequant form runs as dequantThenGemm (a cuBLASLt GEMM after it)");
        String why = formWhyNot(form, t, k, group);
        if (why != null) throw new IllegalArgumentException("weight-only GEMM: the " + form.variant + " form cannot run it: " + why);
        long tilesM = (m + TILE - 1L) / TILE;
        if (m < 1 || tilesM > 65535) throw new IllegalArgumentException("weight-only GEMM: " + m + " activation rows (1 to " + 65535L * TILE + ")");
        checkBuffers(t, scaleType, bits, group, m, n, k, x, codes, scales, zeros, y);
        boolean mma = form == Form.MMA;
        String program = "tessel_gemm_wo" + (mma ? "_mma" + slice : "") + "_w" + bits + "_" + t.text() + "_s" + scaleType.text() + ".cu";
        var kernel = kc.kernel(program, () -> source(t, scaleType, bits, form, slice), mma ? "tessel_gemm_wo_mma" : "tessel_gemm_wo");
        var args = CudaKernel.args().ptr(x).ptr(codes).ptr(scales).ptr(zeros == null ? 0L : zeros.address()).ptr(y).i32(m).i32(n).i32(k).i32(group);
        if (mma) kernel.launch((n + TILE - 1) / TILE, (int) tilesM, 1, 128, 1, 1, 0, stream, args);
        else kernel.launch((n + TILE - 1) / TILE, (int) tilesM, 1, 16, 16, 1, 0, stream, args);
    }

    /** Bytes of the stream's workspace the dequant form takes for an N x K weight in {@code t}: the dequantized weight, then cuBLASLt's workspace. */
    public static long dequantWorkspaceBytes(DType t, int n, int k) { return scratchBytes(t, n, k) + CublasLtGemm.WORKSPACE_BYTES; }

    private static long scratchBytes(DType t, int n, int k) { return (HostTensors.bytes(t, (long) n * k) + 255) & ~255L; }

    /**
     * The dequant form: the weight dequantized into the front of {@code workspace} (at least {@link #dequantWorkspaceBytes})
     * in the activation type {@code t}, then {@code gemm} (planned for M x N x K with the weight transposed, at the
     * activations' precision) multiplies x by it with the rest of the workspace as its own.
     */
    public static void dequantThenGemm(KernelCompiler kc, CublasLtGemm gemm, int algo, DType t, DType scaleType, int bits, int group, int m, int n, int k,
                                       DeviceBuffer x, DeviceBuffer codes, DeviceBuffer scales, DeviceBuffer zeros, DeviceBuffer y, DeviceBuffer workspace, CudaStream stream) {
        String why = QuantizedMatMulTactic.gemmDequantWhyNot(k, group);
        if (why != null) throw new IllegalArgumentException("weight-only GEMM: the dequant form cannot run it: " + why);
        if (group < 1 || k % group != 0) throw new IllegalArgumentException("weight-only GEMM: group size " + group + " does not divide K=" + k);
        checkBuffers(t, scaleType, bits, group, m, n, k, x, codes, scales, zeros, y);
        long scratch = scratchBytes(t, n, k);
        if (workspace.bytes() < scratch + CublasLtGemm.WORKSPACE_BYTES)
            throw new IllegalArgumentException("weight-only GEMM: the dequant form needs " + (scratch + CublasLtGemm.WORKSPACE_BYTES) + " bytes of workspace, got " + workspace.bytes());
        DeviceBuffer w = workspace.slice(0, scratch);
        dequantize(kc, t, scaleType, bits, group, n, k, codes, scales, zeros, w, stream);
        gemm.run(algo, x, w, y, workspace.slice(scratch, CublasLtGemm.WORKSPACE_BYTES), stream);
    }

    /** The dequant form's first kernel: out[n, k] = (code - zero) * scale in {@code t} (K and the group size multiples of 8). */
    public static void dequantize(KernelCompiler kc, DType t, DType scaleType, int bits, int group, int n, int k, DeviceBuffer codes, DeviceBuffer scales,
                                  DeviceBuffer zeros, DeviceBuffer out, CudaStream stream) {
        String why = QuantizedMatMulTactic.gemmDequantWhyNot(k, group);
        if (why != null) throw new IllegalArgumentException("weight-only dequantize: " + why);
        Softmax.check(out, t, (long) n * k, "dequantized weight");
        long threads = (long) n * (k / 8), blocks = (threads + 255) / 256;
        if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException("weight-only dequantize: " + n + " x " + k + " is too large");
        String program = "tessel_wo_dequant_w" + bits + "_" + t.text() + "_s" + scaleType.text() + ".cu";
        var kernel = kc.kernel(program, () -> source(t, scaleType, bits, Form.DEQUANT), "tessel_wo_dequant");
        kernel.launch((int) blocks, 1, 1, 256, 1, 1, 0, stream,
                CudaKernel.args().ptr(codes).ptr(scales).ptr(zeros == null ? 0L : zeros.address()).ptr(out).i32(n).i32(k).i32(group));
    }

    /** Fails naming the operand when a buffer is smaller than the shapes need. */
    static void checkBuffers(DType t, DType scaleType, int bits, int group, int m, int n, int k, DeviceBuffer x, DeviceBuffer codes, DeviceBuffer scales,
                             DeviceBuffer zeros, DeviceBuffer y) {
        long groups = (long) n * (k / group);
        Softmax.check(x, t, (long) m * k, "weight-only activations");
        Softmax.check(y, t, (long) m * n, "weight-only output");
        Softmax.check(codes, DType.U8, bits == 4 ? (long) n * (k / 2) : (long) n * k, "weight-only codes");
        Softmax.check(scales, scaleType, groups, "weight-only scales");
        if (zeros != null) Softmax.check(zeros, DType.U8, groups, "weight-only zero points");
    }
}

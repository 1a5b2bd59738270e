package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.gemv} ({@code gemv.cu}): a MatMul by constant weights at few activation rows, the decode step's
 * projections, as a memory-bound GEMV: the [K, N] weights repacked once as [N, K] rows ({@link #packWeights}), a group
 * of 1, 2 or 4 warps ({@link #kSplit}: the K split) per {@value #ROWS_PER_WARP} rows, each warp taking interleaved 32-chunk
 * slices of K with {@value #UNROLL} 16-byte loads a row in flight per lane, the group's partial sums added in a fixed
 * order; every activation row served by one read of the weights, f32 sums. Weights and activations in one storage type
 * (f32, f16 or bf16).
 */
public final class Gemv {
    private Gemv() {}

    /** Output columns (weight rows) per row group (1, 2 or 4 warps: the K split). */
    public static final int ROWS_PER_WARP = 2;
    /** Warps a launch should have per SM before it splits K less finely: enough loads in flight to hide HBM latency. */
    public static final int WARPS_PER_SM = 32;
    /** Threads per block (4 warps). */
    public static final int THREADS = 128;
    /** 16-byte chunks of each weight row a lane loads before it uses any. */
    public static final int UNROLL = 4;
    /** Most activation rows one launch multiplies (each a register accumulator per weight row). */
    public static final int MAX_ROWS = 8;

    /** Most tensors an elementwise prologue reads (the kernel's activation pointers). */
    public static final int MAX_PROLOGUE_INPUTS = 4;

    /**
     * An elementwise prologue of the x loader: C statements over f32 values {@code x0..x<inputs-1>} (one element of each
     * input, all of x's shape) that assign x's element to {@code const float r} ({@code EltwiseCodegen.inlineOps}).
     */
    public record Prologue(String ops, int inputs) {
        public Prologue {
            if (inputs < 1 || inputs > MAX_PROLOGUE_INPUTS)
                throw new IllegalArgumentException("tessel_gemv: a prologue reads 1 to " + MAX_PROLOGUE_INPUTS + " tensors, got " + inputs);
        }

        /** The x loader's code, inserted in gemv.cu at its marker: the extra pointer parameters, the loader, GV_LOAD_X. */
        String code(DType t) {
            StringBuilder c = new StringBuilder("#define GV_XPARAMS");
            for (int i = 1; i < inputs; i++) c.append(", const T* __restrict__ x").append(i);
            c.append("\n__device__ __forceinline__ void tessel_gv_x(");
            for (int i = 0; i < inputs; i++) c.append("const T* __restrict__ p").append(i).append(", ");
            c.append("long long off, int c, float* xv) {\n");
            for (int i = 0; i < inputs; i++)
                c.append("    float v").append(i).append("[GV_EPC];\n    tessel_gv_unpack(__ldg(reinterpret_cast<const uint4*>(p").append(i).append(" + off) + c), v").append(i).append(");\n");
            c.append("#pragma unroll\n    for (int j = 0; j < GV_EPC; j++) {\n");
            for (int i = 0; i < inputs; i++) c.append("        const float x").append(i).append(" = v").append(i).append("[j];\n");
            c.append(ops).append("        xv[j] = ").append(CudaTypes.round(t, "r")).append(";\n    }\n}\n");
            c.append("#define GV_LOAD_X(row, c, xv) tessel_gv_x(x");
            for (int i = 1; i < inputs; i++) c.append(", x").append(i);
            return c.append(", (long long) (row) * k, c, xv)\n").toString();
        }
    }

    /**
     * An RMS norm of x over its rows (a fused rmsnorm_gemm): each row's sums scaled by rsqrt(mean x^2 + epsilon), the
     * norm's scale folded into the weights ({@link #packWeights(Tensor, Tensor)}).
     */
    public record RmsNorm(float epsilon) {
        String code() { return "#define GV_RMS 1\n#define GV_EPS " + Float.toHexString(epsilon) + "f\n"; }

        String key() { return "_rms" + Integer.toHexString(Float.floatToIntBits(epsilon)); }
    }

    /** The kernel source for storage type {@code t} and {@code m} activation rows, K not split. */
    public static String source(DType t, int m) { return source(t, m, null, null, 1); }

    /**
     * As {@link #source(DType, int)}, x computed by {@code prologue} as it is loaded (null: x read as it is), then
     * normalized by {@code norm} (null: not), each row group's K split over {@code kSplit} warps (1, 2 or 4).
     */
    public static String source(DType t, int m, Prologue prologue, RmsNorm norm, int kSplit) {
        CudaTypes.require(t, "tessel_gemv");
        if (m < 1 || m > MAX_ROWS) throw new IllegalArgumentException("tessel_gemv multiplies 1 to " + MAX_ROWS + " activation rows, got " + m);
        requireKSplit(kSplit, "tessel_gemv");
        String body = KernelCompiler.resource("gemv.cu");
        if (prologue != null) body = body.replace("// @prologue\n", prologue.code(t));
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + "#define GV_M " + m + "\n#define GV_ROWS " + ROWS_PER_WARP + "\n#define GV_UNROLL " + UNROLL
                + "\n#define GV_KSPLIT " + kSplit + "\n#define GV_F32 " + (t == DType.F32 ? 1 : 0) + "\n" + (norm == null ? "" : norm.code()) + KernelCompiler.resource("gemv_ksplit.cuh") + body;
    }

    static void requireKSplit(int kSplit, String kernel) {
        if (kSplit != 1 && kSplit != 2 && kSplit != 4) throw new IllegalArgumentException(kernel + " splits K over 1, 2 or 4 warps, got " + kSplit);
    }

    /**
     * The warps (1, 2 or 4) each group of {@value #ROWS_PER_WARP} output columns splits K over, for {@code n} columns, K={@code k}
     * in {@code t} on {@code smCount} SMs: the smallest that gives the launch {@value #WARPS_PER_SM} warps per SM, at most
     * as many as give every warp one 32-lane slice of 16-byte chunks (the most allowed when none reaches the target).
     */
    public static int kSplit(int n, int k, DType t, int smCount) { return kSplit((n + ROWS_PER_WARP - 1) / ROWS_PER_WARP, k / chunkElements(t), smCount); }

    /** The K split for {@code rowGroups} row groups (over all passes) of {@code chunks} 16-byte chunks a row on {@code smCount} SMs ({@link #kSplit(int, int, DType, int)}). */
    static int kSplit(long rowGroups, int chunks, int smCount) {
        int split = 1;
        while (split < 4 && 2L * split * 32 <= chunks && rowGroups * split < (long) WARPS_PER_SM * smCount) split *= 2;
        return split;
    }

    /** Elements of {@code t} in a 16-byte chunk. */
    public static int chunkElements(DType t) { return 16 / t.bytes(); }

    /** The [K, N] weights (row-major) as [N, K] rows, the kernel's layout. */
    public static Tensor packWeights(Tensor kn) { return packWeights(kn, null); }

    /** As {@link #packWeights(Tensor)}, each weight of input k multiplied by {@code scale}[k] (K values; null: none), an RMS norm's scale folded in. */
    public static Tensor packWeights(Tensor kn, Tensor scale) {
        if (kn.shape().rank() != 2) throw new IllegalArgumentException("tessel.gemv packs 2-D weights, got " + kn.shape());
        int k = kn.shape().dim(0), n = kn.shape().dim(1);
        if (scale != null && scale.size() != k) throw new IllegalArgumentException("tessel.gemv folds a scale of K=" + k + " values into its weights, got " + scale.shape());
        float[] src = kn.floats(), dst = new float[src.length], g = scale == null ? null : scale.floats();
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++) dst[j * k + i] = g == null ? src[i * n + j] : src[i * n + j] * g[i];
        return Tensor.ofFloats(kn.dtype(), org.tessel.api.Shape.of(n, k), dst);
    }

    /**
     * Launches y[m, n] = x[m, k] W on {@code stream}, W given as its [N, K] rows ({@link #packWeights}), all three in {@code t},
     * K split as {@link #kSplit} chooses for the context's SM count (a kernel per split, compiled once).
     * Refuses, before any launch, shapes the 16-byte loads do not fit and buffers too small or misaligned for them.
     */
    public static void launch(KernelCompiler kc, DType t, int m, int n, int k, DeviceBuffer x, DeviceBuffer w, DeviceBuffer y, CudaStream stream) {
        launch(kc, t, m, n, k, x, w, null, null, y, stream);
    }

    /** As above, adding {@code bias} [N] and {@code residual} [M, N] (each may be null) before the output's rounding. */
    public static void launch(KernelCompiler kc, DType t, int m, int n, int k, DeviceBuffer x, DeviceBuffer w, DeviceBuffer bias, DeviceBuffer residual, DeviceBuffer y,
                              CudaStream stream) {
        launch(kc, t, m, n, k, null, null, java.util.List.of(x), w, bias, residual, y, stream);
    }

    /**
     * As above, x [M, K] computed by {@code prologue} from {@code xs} (each [M, K], in the prologue's input order) as each
     * chunk is loaded; with no prologue {@code xs} is x alone. With {@code norm}, x's rows are RMS-normalized (its scale
     * already folded into {@code w}).
     */
    public static void launch(KernelCompiler kc, DType t, int m, int n, int k, Prologue prologue, RmsNorm norm, java.util.List<DeviceBuffer> xs, DeviceBuffer w, DeviceBuffer bias,
                              DeviceBuffer residual, DeviceBuffer y, CudaStream stream) {
        if (xs.size() != (prologue == null ? 1 : prologue.inputs()))
            throw new IllegalArgumentException("tessel.gemv: " + xs.size() + " activation buffers for a " + (prologue == null ? "GEMV without a prologue" : "prologue of " + prologue.inputs() + " inputs"));
        int epc = chunkElements(t);
        if (k % epc != 0) throw new IllegalArgumentException("tessel.gemv: K=" + k + " is not a multiple of " + epc + " (16-byte loads of " + t.text() + ")");
        if (m < 1 || m > MAX_ROWS) throw new IllegalArgumentException("tessel.gemv: " + m + " activation rows (1 to " + MAX_ROWS + ")");
        long es = t.bytes();
        for (DeviceBuffer x : xs)
            if (x.bytes() < es * m * k || x.address() % 16 != 0)
                throw new IllegalArgumentException("tessel.gemv: an activation buffer of " + x.bytes() + " bytes at " + Long.toHexString(x.address()) + " does not hold [" + m + "x" + k
                        + "] in " + t.text() + " on 16 bytes (the 16-byte loads)");
        if (w.bytes() < es * (long) n * k || y.bytes() < es * m * n)
            throw new IllegalArgumentException("tessel.gemv: weights of " + w.bytes() + " and output of " + y.bytes() + " bytes are too small for [" + m + "x" + k + "] x ["
                    + k + "x" + n + "] in " + t.text());
        if (bias != null && bias.bytes() < es * n || residual != null && residual.bytes() < es * m * n)
            throw new IllegalArgumentException("tessel.gemv: a bias of " + (bias == null ? 0 : bias.bytes()) + " or residual of " + (residual == null ? 0 : residual.bytes())
                    + " bytes is too small for N=" + n + ", M=" + m + " in " + t.text());
        if (w.address() % 16 != 0)
            throw new IllegalArgumentException("tessel.gemv: weights must start on 16 bytes (the 16-byte loads), got address " + Long.toHexString(w.address()));
        int split = kSplit(n, k, t, kc.context().device().smCount());
        String key = "tessel_gemv_" + t.text() + "_m" + m + "_ks" + split + (prologue == null ? "" : "_p" + prologue.inputs() + "_" + Integer.toHexString(prologue.ops().hashCode()))
                + (norm == null ? "" : norm.key()) + ".cu";
        var kernel = kc.kernel(key, () -> source(t, m, prologue, norm, split), "tessel_gemv");
        CudaKernel.Args args = CudaKernel.args();
        for (DeviceBuffer x : xs) args.ptr(x);
        kernel.launch(blocks(n, split), 1, 1, THREADS, 1, 1, 0, stream, args.ptr(w).ptr(bias == null ? 0L : bias.address()).ptr(residual == null ? 0L : residual.address()).ptr(y).i32(n).i32(k));
    }

    /** Blocks for {@code n} output columns, each block's warps in groups of {@code kSplit} ({@value #ROWS_PER_WARP} columns a group). */
    public static int blocks(int n, int kSplit) {
        int columns = THREADS / 32 / kSplit * ROWS_PER_WARP;
        return (n + columns - 1) / columns;
    }
}

package org.tessel.runtime.gpu.kernels;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;
import org.tessel.tactics.gemm.QuantizedMatMulTactic;

/**
 * Tactic {@code tessel.gemv.weight_only}: the decode step of {@code tessel.WeightOnlyMatMul} ({@code weight_only_gemv.cu}),
 * a group of 1, 2 or 4 warps ({@link #kSplit}: the K split, interleaved 32-chunk slices of K a warp, the partial sums
 * added in a fixed order) per {@value #ROWS_PER_WARP} weight rows, 16-byte loads of codes and activations, each weight chunk dequantized in
 * registers once and used for all the activation rows of a pass (at most {@value #MAX_PASS_ROWS} rows, a compile-time
 * specialization: their accumulators are registers), f32 sums. Activations f32, f16 or bf16; scales in their stored type; codes and zero points as {@code WeightQuantizer}
 * lays them out. Fused groups as {@link Gemv} runs them: an elementwise prologue in the x loader, an RMS norm (its scale
 * multiplied into x as it is loaded, since the weights are already quantized), a bias and a residual in the epilogue.
 * Three forms of the kernel compute these sums ({@link Form}): plain, staged (one row a pass) and on tensor cores (2-8
 * rows of f16 activations with 4-bit codes); each is a variant of the tactic ({@code tessel.gemv.weight_only/staged}),
 * which the plan names or the engine's auto-tuner picks, else {@link #form} is the default.
 */
public final class WeightOnlyGemv {
    private WeightOnlyGemv() {}

    /** Output rows per row group (1, 2 or 4 warps: the K split). */
    public static final int ROWS_PER_WARP = 2;
    /** Most activation rows one pass of the kernel takes (one read of the weights each): more rows run as more passes (the grid's y). */
    public static final int MAX_PASS_ROWS = QuantizedMatMulTactic.GEMV_PASS_ROWS;
    /** Threads per block (4 warps). */
    public static final int THREADS = 128;

    /** The kernel source for activations {@code t}, scales {@code scaleType}, 4- or 8-bit codes and {@code m} activation rows a pass, K not split. */
    public static String source(DType t, DType scaleType, int bits, int m) { return source(t, scaleType, bits, m, null, null, 1); }

    /**
     * As {@link #source(DType, DType, int, int)}, x computed by {@code prologue} as each chunk is loaded (null: x read as it
     * is), then RMS-normalized by {@code norm} (null: not): x^2 summed, x multiplied by the norm's scale, the sums scaled;
     * each row group's K split over {@code kSplit} warps (1, 2 or 4).
     */
    public static String source(DType t, DType scaleType, int bits, int m, Gemv.Prologue prologue, Gemv.RmsNorm norm, int kSplit) {
        return source(t, scaleType, bits, m, prologue, norm, kSplit, Form.PLAIN);
    }

    /** Most bytes of f32 activations the staged form keeps in shared memory (K up to 12,288 at one row a pass). */
    public static final int STAGE_BYTES = 48 * 1024;

    /**
     * True when the kernel stages x in shared memory ({@code WO_STAGE}): one activation row a pass (a decode step at
     * batch 1) and K's f32 values within {@value #STAGE_BYTES} bytes. The staged form computes x (its prologue, its norm)
     * once a block instead of once a row group, and dequantizes codes without integer-to-float conversions.
     */
    public static boolean staged(int rowsPerPass, int k) { return rowsPerPass == 1 && 4L * k <= STAGE_BYTES; }

    /**
     * The kernel's forms, each a compile-time specialization of {@code weight_only_gemv.cu} computing the same sums, and
     * each a variant of tactic {@code tessel.gemv.weight_only} ({@link #variant}):
     * <ul>
     *   <li>{@link #PLAIN}: every row group loads x itself, codes converted to f32 one by one; any activation type, bits,
     *       zero points and up to {@value #MAX_PASS_ROWS} rows a pass.</li>
     *   <li>{@link #STAGED}: one activation row a pass, x computed once a block into shared memory as f32, codes
     *       converted without integer-to-float conversions.</li>
     *   <li>{@link #MMA}: 4-bit codes with the implicit zero point, f16 activations, up to 8 rows a pass, K and the group
     *       size multiples of 128: x staged once a block as f16, codes turned into f16 pairs by bit operations and
     *       multiplied on tensor cores (mma.sync), f32 sums scaled per group; a fraction of the instructions a code of
     *       the others, whose 4-bit decode steps are bound by instruction issue, not by memory.</li>
     * </ul>
     * {@link #formWhyNot} says where each runs.
     */
    public enum Form {
        PLAIN(QuantizedMatMulTactic.GEMV_PLAIN), STAGED(QuantizedMatMulTactic.GEMV_STAGED), MMA(QuantizedMatMulTactic.GEMV_MMA);

        /** The form as the tactic's variant, as plans and engine layers name it ({@code tessel.gemv.weight_only/VARIANT}). */
        public final String variant;

        Form(String variant) { this.variant = variant; }

        /** The form a variant names, or null when it names none. */
        public static Form ofVariant(String variant) {
            for (Form f : values()) if (f.variant.equals(variant)) return f;
            return null;
        }
    }

    /** Most bytes of staged f16 activations the tensor-core form keeps in shared memory (above 48 KiB the kernel opts in). */
    public static final int MMA_STAGE_BYTES = 96 * 1024;

    /** Bytes of shared memory the tensor-core form stages {@code rows} activation rows of K={@code k} in (64 bytes of padding a row). */
    public static int mmaStageBytes(int rows, int k) { return rows * (k + 32) * 2; }

    /** Why the tensor-core form cannot run this GEMV, or null when it can. */
    public static String mmaWhyNot(DType t, int bits, boolean zeroPoints, int group, int k, int rowsPerPass) {
        if (t != DType.F16) return "activations are " + t.text() + ", not f16";
        if (bits != 4 || zeroPoints) return bits != 4 ? bits + "-bit codes, not 4" : "codes have zero points";
        if (group % 128 != 0 || k % 128 != 0) return "K=" + k + " or group size " + group + " is not a multiple of 128";
        if (rowsPerPass > 8) return rowsPerPass + " activation rows a pass, more than mma's 8";
        if (mmaStageBytes(rowsPerPass, k) > MMA_STAGE_BYTES) return rowsPerPass + " rows of K=" + k + " do not fit " + MMA_STAGE_BYTES + " bytes of shared memory";
        return null;
    }

    /** Why {@code form} cannot run a GEMV of {@code rowsPerPass} rows a pass (null: it can): the staged form's {@link #staged}, the tensor-core form's {@link #mmaWhyNot}. */
    public static String formWhyNot(Form form, DType t, int bits, boolean zeroPoints, int group, int k, int rowsPerPass) {
        return switch (form) {
            case PLAIN -> null;
            case STAGED -> rowsPerPass != 1 ? rowsPerPass + " activation rows a pass, not one"
                    : staged(rowsPerPass, k) ? null : "K=" + k + " f32 activations do not fit " + STAGE_BYTES + " bytes of shared memory";
            case MMA -> mmaWhyNot(t, bits, zeroPoints, group, k, rowsPerPass);
        };
    }

    /**
     * The default form of a GEMV, where neither a plan names a form nor an auto-tuner times them: the staged form at one
     * row a pass whose f32 x fits {@value #STAGE_BYTES} bytes (a batch-1 decode step), else the tensor-core form where it
     * applies ({@link #mmaWhyNot}: 2 to 8 rows a pass), else the plain form. Each is the fastest where it applies on the
     * whole: on an H100 (2026-12-06, QuantizedGemvBench, weights rotated past L2) the tensor-core form at one row was
     * faster for o_proj (7.1 against 9.4 us) and the head (21.0 against 24.1) but slower for gate/up and down_proj, and the
     * batch-1 decode with it 0.935 ms a step against the staged form's 0.81; at 4 and 8 rows it reads the weights once for
     * all of them. An auto-tuner times the forms per node instead, and keeps the fastest it measures.
     */
    public static Form form(DType t, int bits, boolean zeroPoints, int group, int k, int rowsPerPass) {
        if (staged(rowsPerPass, k)) return Form.STAGED;
        return mmaWhyNot(t, bits, zeroPoints, group, k, rowsPerPass) == null ? Form.MMA : Form.PLAIN;
    }

    /** The forms that can run a GEMV ({@link #formWhyNot}), the default {@link #form} first. */
    public static List<Form> forms(DType t, int bits, boolean zeroPoints, int group, int k, int rowsPerPass) {
        Form first = form(t, bits, zeroPoints, group, k, rowsPerPass);
        List<Form> forms = new ArrayList<>(List.of(first));
        for (Form f : Form.values()) if (f != first && formWhyNot(f, t, bits, zeroPoints, group, k, rowsPerPass) == null) forms.add(f);
        return forms;
    }

    /** As {@link #source(DType, DType, int, int, Gemv.Prologue, Gemv.RmsNorm, int)} in {@code form}, which must apply (4 chunks a lane in flight; the launch picks the form's own, {@link #stagedUnroll}, {@link #mmaUnroll}). */
    public static String source(DType t, DType scaleType, int bits, int m, Gemv.Prologue prologue, Gemv.RmsNorm norm, int kSplit, Form form) {
        return source(t, scaleType, bits, m, prologue, norm, kSplit, form, 4);
    }

    /** As above, {@code unroll} (1, 2, 4 or 8) 16-byte chunks of codes a lane loads before it uses any. */
    public static String source(DType t, DType scaleType, int bits, int m, Gemv.Prologue prologue, Gemv.RmsNorm norm, int kSplit, Form form, int unroll) {
        if (unroll != 1 && unroll != 2 && unroll != 4 && unroll != 8) throw new IllegalArgumentException("tessel_gemv_wo loads 1, 2, 4 or 8 chunks a lane at a time, got " + unroll);
        if (form == Form.STAGED && m != 1) throw new IllegalArgumentException("the staged tessel_gemv_wo takes one activation row a pass, got " + m);
        CudaTypes.require(t, "tessel_gemv_wo activations");
        CudaTypes.require(scaleType, "tessel_gemv_wo scales");
        if (bits != 4 && bits != 8) throw new IllegalArgumentException("bits must be 4 or 8, got " + bits);
        if (m < 1 || m > MAX_PASS_ROWS) throw new IllegalArgumentException("tessel_gemv_wo takes 1 to " + MAX_PASS_ROWS + " activation rows a pass, got " + m);
        if (form == Form.MMA && (t != DType.F16 || bits != 4 || m > 8))
            throw new IllegalArgumentException("the tensor-core tessel_gemv_wo takes f16 activations, 4-bit codes and at most 8 rows a pass, got " + t.text() + ", " + bits + ", " + m);
        Gemv.requireKSplit(kSplit, "tessel_gemv_wo");
        String body = KernelCompiler.resource("weight_only_gemv.cu");
        if (prologue != null) body = body.replace("// @prologue\n", prologueCode(prologue, t));
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + CudaTypes.typedefs("S", scaleType) + "#define WO_BITS " + bits + "\n#define WO_ROWS " + ROWS_PER_WARP + "\n#define WO_M " + m
                + "\n#define WO_KSPLIT " + kSplit + "\n#define WO_UNROLL " + unroll + "\n#define WO_F32 " + (t == DType.F32 ? 1 : 0) + "\n" + (form == Form.STAGED ? "#define WO_STAGE 1\n" : form == Form.MMA ? "#define WO_MMA 1\n" : "")
                + (norm == null ? "" : "#define WO_RMS 1\n#define WO_EPS " + Float.toHexString(norm.epsilon()) + "f\n") + KernelCompiler.resource("gemv_ksplit.cuh") + body;
    }

    /**
     * The x loader of an elementwise prologue, inserted at weight_only_gemv.cu's marker: the extra pointer parameters
     * (WO_XPARAMS), a loader evaluating the prologue's ops over one chunk of each input, WO_LOAD_X.
     */
    static String prologueCode(Gemv.Prologue p, DType t) {
        int inputs = p.inputs();
        StringBuilder c = new StringBuilder("#define WO_XPARAMS");
        for (int i = 1; i < inputs; i++) c.append(", const T* __restrict__ x").append(i);
        c.append("\n__device__ __forceinline__ void tessel_wo_x(");
        for (int i = 0; i < inputs; i++) c.append("const T* __restrict__ p").append(i).append(", ");
        c.append("long long off, float* xv) {\n");
        for (int i = 0; i < inputs; i++) c.append("    float v").append(i).append("[WO_CODES];\n    tessel_wo_load(p").append(i).append(" + off, v").append(i).append(");\n");
        c.append("    for (int j = 0; j < WO_CODES; j++) {\n");
        for (int i = 0; i < inputs; i++) c.append("        const float x").append(i).append(" = v").append(i).append("[j];\n");
        c.append(p.ops()).append("        xv[j] = ").append(CudaTypes.round(t, "r")).append(";\n    }\n}\n");
        c.append("#define WO_LOAD_X(off, k0, xv) tessel_wo_x(x");
        for (int i = 1; i < inputs; i++) c.append(", x").append(i);
        return c.append(", (off) + (k0), xv)\n").toString();
    }

    /** Why the kernel cannot run a K and group size at these bits (16-byte chunks within one group), or null. */
    public static String whyNot(int k, int group, int bits) {
        int codes = QuantizedMatMulTactic.codesPerChunk(bits);
        if (k % codes != 0) return "K=" + k + " is not a multiple of " + codes + " (16-byte weight loads)";
        if (group % codes != 0) return "group size " + group + " is not a multiple of " + codes + " (a 16-byte chunk would span two groups)";
        if (k % group != 0) return "group size " + group + " does not divide K=" + k;
        return null;
    }

    /**
     * Launches y[m, n] = x[m, k] W^T on {@code stream} in the default {@link #form}: x and y in {@code t}, codes and scales
     * ({@code scaleType}) as {@code WeightQuantizer} lays them out, {@code zeros} null for symmetric codes; K split as
     * {@link #kSplit} chooses for the context's SM count (a kernel per split, compiled once). Refuses, before any launch,
     * shapes the 16-byte loads do not fit and buffers too small for them.
     */
    public static void launch(KernelCompiler kc, DType t, DType scaleType, int bits, int group, int m, int n, int k, DeviceBuffer x,
                              DeviceBuffer codes, DeviceBuffer scales, DeviceBuffer zeros, DeviceBuffer y, CudaStream stream) {
        launch(kc, t, scaleType, bits, group, m, n, k, null, null, List.of(x), codes, scales, zeros, null, null, null, y, stream,
                form(t, bits, zeros != null, group, k, rowsPerPass(m)));
    }

    /**
     * As above in {@code form} (the one a plan names or the auto-tuner picks; refused where it cannot run the GEMV,
     * {@link #formWhyNot}), fused: x [M, K] computed by {@code prologue} from {@code xs} (each [M, K], in the prologue's
     * input order) as each chunk is loaded (no prologue: {@code xs} is x alone); with {@code norm}, x's rows RMS-normalized
     * and multiplied by {@code gamma} [K] in {@code t}; then {@code bias} [N] and {@code residual} [M, N] (each may be null)
     * added before the output's rounding.
     */
    public static void launch(KernelCompiler kc, DType t, DType scaleType, int bits, int group, int m, int n, int k, Gemv.Prologue prologue, Gemv.RmsNorm norm,
                              List<DeviceBuffer> xs, DeviceBuffer codes, DeviceBuffer scales, DeviceBuffer zeros, DeviceBuffer gamma, DeviceBuffer bias,
                              DeviceBuffer residual, DeviceBuffer y, CudaStream stream, Form form) {
        launch(kc, t, scaleType, bits, group, m, n, k, prologue, norm, xs, codes, scales, zeros, gamma, bias, residual, y, stream, form, 0);
    }

    /**
     * As above, each lane loading {@code unroll} (1, 2, 4 or 8) 16-byte chunks of codes a row before it uses any; 0: the
     * form's own ({@link #mmaUnroll}, {@link #stagedUnroll}, 4 in the plain form).
     */
    public static void launch(KernelCompiler kc, DType t, DType scaleType, int bits, int group, int m, int n, int k, Gemv.Prologue prologue, Gemv.RmsNorm norm,
                              List<DeviceBuffer> xs, DeviceBuffer codes, DeviceBuffer scales, DeviceBuffer zeros, DeviceBuffer gamma, DeviceBuffer bias,
                              DeviceBuffer residual, DeviceBuffer y, CudaStream stream, Form form, int unrollOrZero) {
        String why = whyNot(k, group, bits);
        if (why != null) throw new IllegalArgumentException("weight-only GEMV: " + why);
        if (m < 1 || m > 65535) throw new IllegalArgumentException("weight-only GEMV: " + m + " activation rows (1 to 65535)");
        if (xs.size() != (prologue == null ? 1 : prologue.inputs()))
            throw new IllegalArgumentException("weight-only GEMV: " + xs.size() + " activation buffers for a " + (prologue == null ? "GEMV without a prologue" : "prologue of " + prologue.inputs() + " inputs"));
        if ((norm == null) != (gamma == null)) throw new IllegalArgumentException("weight-only GEMV: an RMS norm needs its scale gamma and gamma its norm");
        for (DeviceBuffer x : xs) {
            WeightOnlyGemm.checkBuffers(t, scaleType, bits, group, m, n, k, x, codes, scales, zeros, y);
            if (x.address() % 16 != 0)
                throw new IllegalArgumentException("weight-only GEMV: activations must start on 16 bytes (the 16-byte loads), got address " + Long.toHexString(x.address()));
        }
        if (codes.address() % 16 != 0)
            throw new IllegalArgumentException("weight-only GEMV: codes must start on 16 bytes (the 16-byte loads), got address " + Long.toHexString(codes.address()));
        long es = t.bytes();
        if (gamma != null && (gamma.bytes() < es * k || gamma.address() % 16 != 0))
            throw new IllegalArgumentException("weight-only GEMV: a norm scale of " + gamma.bytes() + " bytes at " + Long.toHexString(gamma.address()) + " does not hold K=" + k
                    + " values of " + t.text() + " on 16 bytes");
        if (bias != null && bias.bytes() < es * n || residual != null && residual.bytes() < es * m * n)
            throw new IllegalArgumentException("weight-only GEMV: a bias of " + (bias == null ? 0 : bias.bytes()) + " or residual of " + (residual == null ? 0 : residual.bytes())
                    + " bytes is too small for N=" + n + ", M=" + m + " in " + t.text());
        int passes = passes(m), rows = rowsPerPass(m), sms = kc.context().device().smCount();
        String formWhy = formWhyNot(form, t, bits, zeros != null, group, k, rows);
        if (formWhy != null) throw new IllegalArgumentException("weight-only GEMV: the " + form.variant + " form cannot run it: " + formWhy);
        int split = switch (form) {
            case MMA -> mmaKSplit(n, k, passes, sms);
            // staged, a block computes x once for its rows: with rows enough for every SM (4 row groups an SM), a K split
            // would only multiply that work (each split a block of fewer rows), so K stays whole
            case STAGED -> (long) (n + ROWS_PER_WARP - 1) / ROWS_PER_WARP >= 4L * sms ? 1 : kSplit(n, k, bits, m, sms);
            case PLAIN -> kSplit(n, k, bits, m, sms);
        };
        int unroll = unrollOrZero != 0 ? unrollOrZero : switch (form) {
            case MMA -> mmaUnroll(k, split);
            case STAGED -> stagedUnroll(k, bits, split);
            case PLAIN -> 4;
        };
        String program = "tessel_gemv_w" + bits + "_" + t.text() + "_s" + scaleType.text() + "_m" + rows + "_ks" + split
                + (form == Form.STAGED ? "_st_u" + unroll : form == Form.MMA ? "_mma_u" + unroll : "")
                + (prologue == null ? "" : "_p" + prologue.inputs() + "_" + Integer.toHexString(prologue.ops().hashCode()))
                + (norm == null ? "" : "_rms" + Integer.toHexString(Float.floatToIntBits(norm.epsilon()))) + ".cu";
        var kernel = kc.kernel(program, () -> source(t, scaleType, bits, rows, prologue, norm, split, form, unroll), "tessel_gemv_wo");
        int shared = switch (form) {
            case MMA -> mmaStageBytes(rows, k);
            case STAGED -> 4 * k;
            case PLAIN -> 0;
        };
        if (shared > 46 * 1024) kernel.setMaxDynamicSharedMemory(shared);
        CudaKernel.Args args = CudaKernel.args();
        for (DeviceBuffer x : xs) args.ptr(x);
        args.ptr(codes).ptr(scales).ptr(zeros == null ? 0L : zeros.address()).ptr(gamma == null ? 0L : gamma.address()).ptr(bias == null ? 0L : bias.address())
                .ptr(residual == null ? 0L : residual.address()).ptr(y).i32(n).i32(k).i32(group).i32(m);
        kernel.launch(form == Form.MMA ? mmaBlocks(n, split) : blocks(n, split), passes, 1, THREADS, 1, 1, shared, stream, args);
    }

    /**
     * The tensor-core form's K split (1, 2 or 4 warps a tile of 8 weight rows, the block's 4 warps in 4 / split tiles):
     * the smallest that gives the launch 16 warps an SM (enough 64-byte loads in flight a lane to cover HBM latency), each
     * warp at least two of K's 128-code steps.
     */
    public static int mmaKSplit(int n, int k, int passes, int smCount) {
        long tiles = (long) (n + 7) / 8 * passes;
        int split = 1;
        while (split < 4 && 2 * split * 2 <= k / 128 && tiles * split < 16L * smCount) split *= 2;
        return split;
    }

    /**
     * The K steps (128 codes, a 16-byte chunk a lane) a lane of the tensor-core form loads before it uses any, for K={@code k}
     * split over {@code kSplit} warps: its steps, rounded up to a power of two, at most 4 (64 bytes a lane in flight; more
     * steps take more rounds), so no lane loads past its share. 8 (128 registers) made down_proj 6.6 -> 12.4 us on an H100.
     */
    public static int mmaUnroll(int k, int kSplit) {
        int steps = (k / 128 + kSplit - 1) / kSplit, u = 1;
        while (u < 4 && u < steps) u *= 2;
        return u;
    }

    /**
     * The 16-byte chunks of codes a lane of the staged form loads before it uses any, for K={@code k} in {@code bits}-bit
     * codes split over {@code kSplit} warps: its share of a row rounded up to a power of two, at least 4 and at most 8. The
     * first of them are fetched before the block stages x, so with the whole share in one round the staging (a prologue's
     * tree evaluated for all of K, once a block) overlaps the codes' HBM latency instead of preceding a second round;
     * down_proj's K of 5632 at 4 bits takes 8 (5.5 a lane), K of 2048 stays at 4.
     */
    public static int stagedUnroll(int k, int bits, int kSplit) {
        int chunks = (bits == 4 ? k / 2 : k) / 16, share = (chunks + 32 * kSplit - 1) / (32 * kSplit), u = 4;
        while (u < 8 && u < share) u *= 2;
        return u;
    }

    /** Blocks along N for the tensor-core form: tiles of 8 rows, 4 / {@code kSplit} of them a block. */
    public static int mmaBlocks(int n, int kSplit) {
        int rows = THREADS / 32 / kSplit * 8;
        return (n + rows - 1) / rows;
    }

    /** Passes over the weights for {@code m} activation rows: the fewest of at most {@value #MAX_PASS_ROWS} rows, as even as they divide. */
    public static int passes(int m) { return QuantizedMatMulTactic.gemvPasses(m); }

    /** Activation rows each pass takes for {@code m} rows (the last pass may take fewer): the kernel's compile-time M. */
    public static int rowsPerPass(int m) {
        int passes = passes(m);
        return (m + passes - 1) / passes;
    }

    /**
     * The warps (1, 2 or 4) each group of {@value #ROWS_PER_WARP} output rows splits K over, for {@code n} rows, K={@code k}
     * in {@code bits}-bit codes and {@code m} activation rows on {@code smCount} SMs: the smallest that gives the launch
     * (all its passes) {@value Gemv#WARPS_PER_SM} warps per SM, at most as many as give every warp one 32-lane slice of
     * 16-byte chunks of codes (the most allowed when none reaches the target).
     */
    public static int kSplit(int n, int k, int bits, int m, int smCount) {
        return Gemv.kSplit((long) (n + ROWS_PER_WARP - 1) / ROWS_PER_WARP * passes(m), k / QuantizedMatMulTactic.codesPerChunk(bits), smCount);
    }

    /** Blocks along N for {@code n} output rows, each block's warps in groups of {@code kSplit} ({@value #ROWS_PER_WARP} rows a group). */
    public static int blocks(int n, int kSplit) {
        int rows = THREADS / 32 / kSplit * ROWS_PER_WARP;
        return (n + rows - 1) / rows;
    }
}

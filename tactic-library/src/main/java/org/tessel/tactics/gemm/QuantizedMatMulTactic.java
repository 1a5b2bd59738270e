package org.tessel.tactics.gemm;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.Cost;
import org.tessel.cost.CostModel;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.cost.Work;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;

/**
 * Tessel's CUDA C kernels for the LLM quantized MatMuls ({@code tessel.WeightOnlyMatMul}, {@code tessel.W8A8MatMul}):
 * the activation A [..., K] in the node's storage type (f32, f16 or bf16), the packed codes, scales and zero points
 * uploaded once as they are stored. Three kinds:
 *
 * <ul>
 *   <li>{@link Kind#WEIGHT_ONLY_GEMV}: the decode step (at most {@link #GEMV_MAX_ROWS} activation rows): a warp per two
 *       weight rows, 16-byte loads of codes and activations, each weight chunk dequantized in registers once and used
 *       for every activation row of a pass of at most {@link #GEMV_PASS_ROWS} (their accumulators are registers; more
 *       rows take more passes). Memory-bound: priced by the bytes it reads (codes, scales, activations) over bandwidth,
 *       the weights once a pass. Its 16-byte chunks must stay within one group, so K and
 *       the group size are multiples of the codes in 16 bytes (32 at 4 bits, 16 at 8). As {@code tessel.gemv} does it
 *       runs fused groups of one: gemm_bias_act (a bias and a residual Add before the one rounding), eltwise_gemm (the
 *       elementwise tree computing A evaluated as each chunk of A is loaded) and rmsnorm_gemm (x^2 summed in the same
 *       pass, the norm's scale multiplied into the dequantized chunk, each row's sums scaled by rsqrt(mean x^2 + eps):
 *       the scale cannot be folded into weights already quantized). Its kernel has three forms computing the same sums,
 *       the tactic's variants ({@link #planVariants}): {@value #GEMV_PLAIN}, {@value #GEMV_STAGED} (one activation row a pass,
 *       x computed once a block into shared memory) and {@value #GEMV_MMA} (tensor cores: f16 activations, 4-bit codes
 *       without zero points, K and the group size multiples of 128, at most 8 rows a pass); a plan names one
 *       ({@code tessel.gemv.weight_only/mma}), else the engine's auto-tuner times those that run the node, else its
 *       default (the runtime's WeightOnlyGemv.form) runs. Priced alike: one memory-bound estimate for every form.</li>
 *   <li>{@link Kind#WEIGHT_ONLY_GEMM}: prefill: 64x64 output tiles, each K slice of the weight decoded once into
 *       shared memory and shared by the tile's 64 activation rows; any M. Two forms, the tactic's variants, priced apart
 *       by the search ({@link #GEMM_VARIANTS}): {@value #GEMM_MMA} (tensor cores: f16 activations, the slice's code
 *       differences code - zero exact in f16, each 32-term mma sum scaled once; K and the group size multiples of 32,
 *       {@link #gemmMmaWhyNot}), {@value #GEMM_DEQUANT} (the weight dequantized into the workspace in the activation
 *       type, then cuBLASLt's GEMM: priced as cuBLASLt's, its memory counting the scratch written and read; K and the
 *       group size multiples of 8) and {@value #GEMM_TILED} (f32 on CUDA cores, any K the op allows). A plan names one
 *       ({@code tessel.gemm.weight_only/mma}); one that names none runs the tiled form.</li>
 *   <li>{@link Kind#W8A8_GEMM}: SmoothQuant's int8 x int8: A quantized per tensor while a 32x32 tile loads it, exact
 *       int32 sums by dp4a (four int8 products an instruction), scaled once per output.</li>
 * </ul>
 *
 * Every weight input must be constant (a layer uploads them once at build time).
 */
public final class QuantizedMatMulTactic extends BaseTactic {
    /** What the kernel is and which op it computes. */
    public enum Kind {
        WEIGHT_ONLY_GEMV("tessel.WeightOnlyMatMul"), WEIGHT_ONLY_GEMM("tessel.WeightOnlyMatMul"), W8A8_GEMM("tessel.W8A8MatMul");

        final String op;

        Kind(String op) { this.op = op; }

        public String op() { return op; }
    }

    /** Most activation rows (batch x tokens) the GEMV takes: each pass re-reads the weights, so beyond a decode batch the tiled GEMM wins. */
    public static final int GEMV_MAX_ROWS = 16;
    /** Most activation rows one pass of the GEMV serves with one read of the weights (the runtime's WeightOnlyGemv.MAX_PASS_ROWS). */
    public static final int GEMV_PASS_ROWS = 8;
    /** The variant of the GEMV's plain form: every row group loads x itself; any activations, bits, zero points and rows. */
    public static final String GEMV_PLAIN = "plain";
    /** The variant of the GEMV's staged form: one activation row a pass, x computed once a block into shared memory. */
    public static final String GEMV_STAGED = "staged";
    /** The variant of the GEMV's tensor-core form ({@code mma.sync}): f16 activations, 4-bit codes, up to 8 rows a pass. */
    public static final String GEMV_MMA = "mma";
    /** The decode GEMV's variants, one per form of its kernel. */
    public static final List<String> GEMV_VARIANTS = List.of(GEMV_PLAIN, GEMV_STAGED, GEMV_MMA);
    /** The prefill GEMM's tensor-core form. */
    public static final String GEMM_MMA = "mma";
    /** The prefill GEMM's dequantizing form: the weight dequantized into the workspace, then cuBLASLt's GEMM. */
    public static final String GEMM_DEQUANT = "dequant";
    /** The prefill GEMM's CUDA-core form, which runs where a plan names no form. */
    public static final String GEMM_TILED = "tiled";
    /** The prefill GEMM's variants, in the order the search prefers on a tie. */
    public static final List<String> GEMM_VARIANTS = List.of(GEMM_MMA, GEMM_DEQUANT, GEMM_TILED);
    /**
     * The tensor-core GEMM's share of the FP16 tensor-core peak, fitted to an H100 (2026-12-07, QuantizedGemvBench, INT4
     * g128): 64x64 tiles of 4 warps reached 91-141 TFLOP/s on llama-1b's projections at 512 rows in K slices of 64
     * (of 989), 25-129 at 128 rows, where cuBLASLt's FP16 GEMM reached 417-681 and 121-328.
     */
    public static final double GEMM_MMA_PEAK_EFFICIENCY = 0.12;
    /** Most output tiles along one grid axis (CUDA's y and z extents). */
    static final long MAX_GRID = 65535;

    private final Kind kind;

    public QuantizedMatMulTactic(String id, String summary, Kind kind) {
        super(id, summary, Backend.GPU, EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16), Set.of());
        this.kind = kind;
    }

    public Kind kind() { return kind; }

    /** The GEMV's forms ({@link #GEMV_VARIANTS}), the weight-only GEMM's ({@link #GEMM_VARIANTS}); the W8A8 GEMM has none. */
    @Override public List<String> planVariants() {
        return switch (kind) {
            case WEIGHT_ONLY_GEMV -> GEMV_VARIANTS;
            case WEIGHT_ONLY_GEMM -> GEMM_VARIANTS;
            case W8A8_GEMM -> List.of();
        };
    }

    /** The weight-only GEMM's forms are priced apart (tensor cores or not); the GEMV's builder picks its form. */
    @Override public boolean pricesVariants() { return kind == Kind.WEIGHT_ONLY_GEMM; }

    @Override public List<String> pricedVariants(Node n, Precision p) {
        return pricesVariants() ? GEMM_VARIANTS.stream().filter(v -> gemmFormWhyNot(n, p, v) == null).toList() : List.of();
    }

    @Override public String variantWhyNot(Node n, String variant, Precision p) {
        if (kind != Kind.WEIGHT_ONLY_GEMM || n == null || !GEMM_VARIANTS.contains(variant)) return super.variantWhyNot(n, variant, p);
        return gemmFormWhyNot(n, p, variant);
    }

    @Override public TacticFeatures features(Node n, Precision p, Layout l, String variant) {
        TacticFeatures own = features(n, p, l);
        if (kind != Kind.WEIGHT_ONLY_GEMM) return own;
        return switch (variant) {
            case GEMM_MMA -> own.withTensorCores(true).withPeakEfficiency(GEMM_MMA_PEAK_EFFICIENCY);
            // cuBLASLt's GEMM, whose memory also writes and reads the dequantized weight (2 x N x K elements at p)
            case GEMM_DEQUANT -> {
                TacticFeatures lt = GemmTactics.CUBLASLT.features(n, p, l);
                Work w = Work.of(n, p);
                double nodeBytes = w.bytes(), extra = 2.0 * w.gemmN() * w.gemmK() * p.storage().bytes();
                yield new TacticFeatures(lt.peakEfficiency(), lt.tensorCores(), lt.tileM(), lt.tileN(), lt.tileK(), lt.alignmentElements(),
                        lt.memoryEfficiency() * nodeBytes / (nodeBytes + extra), 2).withStreamK(true);
            }
            default -> own;
        };
    }

    /** The dequant form's workspace besides the tactic's own: the dequantized N x K weight at p, and cuBLASLt's. */
    @Override public Cost cost(CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs, String variant) {
        Cost c = super.cost(model, n, p, l, cudaGraphs, variant);
        if (kind != Kind.WEIGHT_ONLY_GEMM || !variant.equals(GEMM_DEQUANT)) return c;
        Work w = Work.of(n, p);
        return c.withWorkspace(c.workspaceBytes() + w.gemmN() * w.gemmK() * p.storage().bytes() + GemmTactics.LT_WORKSPACE);
    }

    /** Why the weight-only GEMM's form {@code variant} cannot run {@code n} at {@code p} (null: it can). */
    private String gemmFormWhyNot(Node n, Precision p, String variant) {
        if (variant.equals(GEMM_TILED)) return null;
        int k = n.input(0).type().shape().dim(-1), group = (int) n.attrs().getInt("group_size", 0);
        String why = variant.equals(GEMM_MMA) ? gemmMmaWhyNot(p.storage(), k, group) : gemmDequantWhyNot(k, group);
        return why == null ? null : "the " + variant + " form of " + id() + " cannot run " + n.name() + ": " + why;
    }

    /** Why the weight-only GEMM's dequant form cannot run K={@code k} with group size {@code group} (null: it can): its threads dequantize 8 codes of one group. */
    public static String gemmDequantWhyNot(int k, int group) {
        if (k % 8 != 0 || group % 8 != 0) return "its threads dequantize 8 codes of one group: K=" + k + " and group size " + group + " must be multiples of 8";
        return null;
    }

    /**
     * Why the weight-only GEMM's tensor-core form cannot run activations {@code t} of K={@code k} with group size
     * {@code group} (null: it can): it multiplies f16 activations (mma.sync on f16), and its K slices of 32 load whole
     * 16-byte chunks of one group.
     */
    public static String gemmMmaWhyNot(DType t, int k, int group) {
        if (t != DType.F16) return "it multiplies f16 activations (mma.sync on f16), not " + t.text();
        if (k % 32 != 0 || group % 32 != 0) return "its K slices of 32 lie in one group: K=" + k + " and group size " + group + " must be multiples of 32";
        return null;
    }

    /** The fused kinds the decode GEMV runs: the MatMul's Adds, and A computed by an elementwise tree or an RMSNormalization in its x loader. */
    private static final Set<String> GEMV_KINDS = Set.of("gemm_bias_act", "eltwise_gemm", GemvTactic.RMSNORM_GEMM);

    @Override public boolean appliesTo(Node n) {
        if (n.body() == null) return n.opName().equals(kind.op);
        return kind == Kind.WEIGHT_ONLY_GEMV && GEMV_KINDS.contains(NodeFacts.fusedKind(n)) && NodeFacts.anchor(n, Set.of(kind.op)) != null;
    }

    @Override protected String appliesToText() {
        return kind == Kind.WEIGHT_ONLY_GEMV ? kind.op + ", and fused gemm_bias_act (its bias and residual Adds), eltwise_gemm and rmsnorm_gemm groups of one" : kind.op;
    }

    /** The quantized MatMul of {@code n}: itself, or a fused group's anchor. */
    static Node anchor(Node n, Kind kind) { return n.body() == null ? n : NodeFacts.anchor(n, Set.of(kind.op)); }

    /** Codes a 16-byte load of a weight row holds at {@code bits}: 32 four-bit codes or 16 eight-bit ones. */
    public static int codesPerChunk(int bits) { return bits == 4 ? 32 : 16; }

    /** The GEMV's passes over the weights for {@code m} activation rows. */
    public static int gemvPasses(long m) { return (int) Math.max(1, (m + GEMV_PASS_ROWS - 1) / GEMV_PASS_ROWS); }

    /** Activation rows (all of A's dims but the last). */
    static long rows(Node n) {
        var a = n.input(0).type();
        int k = a.shape().dim(-1);
        return k == 0 ? 0 : a.numElements() / k;
    }

    @Override protected String shapeWhyNot(Node n0, Precision p, Layout l) {
        Node n = anchor(n0, kind);
        for (int i = 1; i < n.numInputs(); i++) {
            Value v = n.input(i);
            if (v != null && !NodeFacts.isConstant(n0, v)) return "takes constant weights, scales and zero points (%" + v.name() + " is computed)";
        }
        if (n0.body() != null) {
            // the same bodies tessel.gemv takes: Adds after the product, an elementwise tree or an RMSNormalization before it
            String body = GemvTactic.bodyWhyNot(n0, n);
            if (body != null) return body;
        }
        if (n.input(0).type().rank() < 1) return "takes A of rank 1 or more";
        long m = rows(n);
        int k = n.input(0).type().shape().dim(-1);
        if (m == 0 || k == 0) return "has nothing to multiply (A is " + n.input(0).type().shape() + ")";
        switch (kind) {
            case WEIGHT_ONLY_GEMV -> {
                if (m > GEMV_MAX_ROWS) return "is the decode GEMV: at most " + GEMV_MAX_ROWS + " activation rows (A has " + m + ")";
                int bits = (int) n.attrs().getInt("bits", 0), group = (int) n.attrs().getInt("group_size", 0), c = codesPerChunk(bits);
                if (k % c != 0) return "reads 16-byte chunks of " + c + " " + bits + "-bit codes: K=" + k + " is not a multiple of " + c;
                if (group % c != 0) return "reads 16-byte chunks of " + c + " " + bits + "-bit codes, each within one group: group_size " + group + " is not a multiple of " + c;
            }
            case WEIGHT_ONLY_GEMM -> {
                if ((m + 63) / 64 > MAX_GRID) return "takes at most " + MAX_GRID * 64 + " activation rows (A has " + m + ")";
            }
            case W8A8_GEMM -> {
                if ((m + 31) / 32 > MAX_GRID) return "takes at most " + MAX_GRID * 32 + " activation rows (A has " + m + ")";
            }
        }
        return null;
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        return switch (kind) {
            // memory-bound: the model prices the node's bytes (codes at their own size, activations at the storage type) over
            // bandwidth; they are the bytes read for up to GEMV_PASS_ROWS rows (one pass), more rows re-read the weights a pass each
            case WEIGHT_ONLY_GEMV -> TacticFeatures.streaming(0.5, 0.8 / gemvPasses(rows(anchor(n, kind))), 1);
            // CUDA cores, 64x64 tiles, K in slices of 32 through shared memory, no split-K
            case WEIGHT_ONLY_GEMM -> new TacticFeatures(0.35, false, 64, 64, 32, 1, 0.6, 1, 1);
            // dp4a does four multiply-adds an instruction: more of the FP32 peak's rate than the float kernels get
            case W8A8_GEMM -> new TacticFeatures(0.8, false, 32, 32, 64, 1, 0.6, 1, 1);
        };
    }
}

package org.tessel.tactics.gemm;

import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.cost.Work;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;

/**
 * Tactic that runs a GEMM the way the GPU engine does: a plain Gemm node as one cuBLASLt matmul,
 * a fused gemm_bias_act chain (MatMul or Gemm, bias, residual, activation) as a cuBLASLt matmul
 * with the epilogue that matches its tail, the residual as C with beta = 1, and an activation
 * cuBLASLt lacks (exact GELU, Tanh) as a Tessel kernel in place after it. The cuBLASLt heuristic
 * algorithm is a variant ({@code /heuristic_I}). Named instances are in {@link GemmTactics}.
 */
public final class GemmTactic extends BaseTactic {
    /** What the kernel does after the product. */
    public enum Epilogue {
        /** Plain Gemm/MatMul nodes. */
        NONE,
        /** CUBLASLT_EPILOGUE_BIAS: bias Add, no activation. */
        BIAS,
        /** CUBLASLT_EPILOGUE_RELU_BIAS (or RELU without bias). */
        BIAS_RELU,
        /** CUBLASLT_EPILOGUE_GELU_BIAS (or GELU without bias): the tanh approximation. */
        BIAS_GELU,
        /** CUBLASLT_EPILOGUE_BIAS (or none), then Tessel's exact (erf) GELU in place: two kernels. */
        BIAS_GELU_ERF,
        /** CUBLASLT_EPILOGUE_BIAS (or none), then Tessel's Tanh in place: two kernels. */
        BIAS_TANH
    }

    /** Ops a fused gemm_bias_act body may hold for the engine (TransformerLayers.gemmBiasAct refuses any other). */
    static final Set<String> ENGINE_BODY_OPS = Set.of("MatMul", "Gemm", "Add", "Relu", "Gelu", "Tanh", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Clip");

    /**
     * @param tileM        the largest tile; the cost model's heuristic may halve it and split K for small shapes
     *                     (the split-K partials are workspace the model reports)
     * @param workspaceCap workspace the library asks for besides split-K (cuBLASLt's heuristic scratch), 0 for none
     */
    public record Config(String id, String summary, Epilogue epilogue, Set<Precision> precisions,
                         int tileM, int tileN, int tileK, double tensorEfficiency, double cudaEfficiency, double memoryEfficiency, long workspaceCap) {}

    private static final Set<String> GEMMS = Set.of("Gemm", "MatMul");
    private final Config config;

    public GemmTactic(Config c) {
        super(c.id(), c.summary(), Backend.GPU, c.precisions(), Set.of());
        this.config = c;
    }

    public Config config() { return config; }

    @Override public boolean appliesTo(Node n) {
        if (config.epilogue == Epilogue.NONE) return n.body() == null && GEMMS.contains(n.opName());
        return "gemm_bias_act".equals(NodeFacts.fusedKind(n)) && NodeFacts.anchor(n, GEMMS) != null;
    }

    @Override protected String appliesToText() { return config.epilogue == Epilogue.NONE ? "Gemm and MatMul" : "fused gemm_bias_act"; }

    private static boolean hasBias(Node fused) {
        for (Node b : fused.body().nodes()) if (b.opName().equals("Add")) return true;
        return false;
    }

    /** The engine's Gemm attribute limits (GpuEngine.gemm, TransformerLayers.gemmBiasAct); null when fine. */
    private static String gemmAttrsWhyNot(Node g) {
        if (!g.opName().equals("Gemm")) return null;
        if (g.attrs().getInt("transA", 0) != 0) return "the engine runs Gemm with transA=0 only";
        if (g.attrs().getFloat("alpha", 1f) != 1f || g.attrs().getFloat("beta", 1f) != 1f) return "the engine runs Gemm with alpha = beta = 1 only";
        return null;
    }

    /** What the engine's GEMM builders refuse; null when fine. */
    private static String engineWhyNot(Node n, Node mm) {
        String why = gemmAttrsWhyNot(mm);
        if (why != null) return why;
        if (n.body() == null) {
            if (mm.opName().equals("MatMul")) {
                // a projection without bias (a Llama's q/k/v, gate/up, lm_head): [.., K] rows by constant [K, N] weights
                var w = mm.input(1);
                return w.isConstant() && w.type().rank() == 2 && mm.input(0).type().rank() >= 2 ? null
                        : "cuBLASLt runs an unfused MatMul only by constant 2-D weights (got " + w.type() + (w.isConstant() ? "" : ", not constant")
                          + "; see tessel.matmul), else inside a fused gemm_bias_act";
            }
            if (mm.input(0).type().rank() != 2 || mm.input(1).type().rank() != 2) return "Gemm of rank-2 operands only";
            long nn = mm.output().type().shape().dim(-1);
            if (mm.numInputs() > 2 && mm.input(2) != null && mm.input(2).type().numElements() != nn)
                return "Gemm's C must be a bias vector of N=" + nn + " (got " + mm.input(2).type().shape() + ")";
            return null;
        }
        for (Node b : n.body().nodes())
            if (!ENGINE_BODY_OPS.contains(b.opName())) return "the engine's gemm_bias_act body holds MatMul, Gemm, Add, and Relu, Gelu, Tanh, Sigmoid, HardSigmoid, HardSwish, LeakyRelu or Clip (got " + b.opName() + ")";
        var w = mm.input(1);
        if (!NodeFacts.isConstant(n, w) || w.type().rank() != 2) return "the right operand must be 2-D constant weights (got " + w.type() + ")";
        return null;
    }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        Node mm = NodeFacts.anchor(n, GEMMS);
        String engine = engineWhyNot(n, mm);
        if (engine != null) return engine;
        long[] d = Work.gemmDims(mm);
        if (n.body() == null && mm.opName().equals("MatMul") && p.quantized())
            return "a MatMul alone runs at float precisions; " + p.text() + " runs it inside a fused gemm_bias_act";
        if (p == Precision.INT8 && (d[2] % 4 != 0 || d[1] % 4 != 0))
            return "INT8 needs K and N that are multiples of 4 (got K=" + d[2] + ", N=" + d[1] + ")";
        // cuBLASLt's FP8 matmul: 16-byte aligned leading dimensions of the e4m3 operands (cuBLAS docs, "cublasLtMatmul" FP8 requirements)
        if (p == Precision.FP8 && (d[2] % 16 != 0 || d[1] % 16 != 0))
            return "FP8 needs K and N that are multiples of 16 (got K=" + d[2] + ", N=" + d[1] + ")";
        if (config.epilogue == Epilogue.NONE) return null;
        Node act = NodeFacts.activation(n);
        String a = act == null ? null : act.opName();
        return switch (config.epilogue) {
            // Sigmoid, HardSigmoid, HardSwish, LeakyRelu and Clip, which no cuBLASLt epilogue has, run as Tessel's activation
            // kernel after the bias epilogue (variant /sigmoid, ...) at the float precisions
            case BIAS -> a != null && !POST_ACTIVATIONS.contains(a) ? "the bias epilogue has no " + a + " (see cublaslt.gemm.bias_relu/bias_gelu/bias_gelu_erf/bias_tanh)"
                    : a != null && p.quantized() ? p.text() + " takes no " + a + " after the GEMM (Tessel's activation kernel runs after float GEMMs)"
                    : hasBias(n) ? null : "no bias Add to fuse";
            case BIAS_RELU -> "Relu".equals(a) ? null : "the epilogue is bias + Relu (got " + (a == null ? "no activation" : a) + ")";
            case BIAS_GELU -> {
                if (!"Gelu".equals(a)) yield "the epilogue is bias + GELU (got " + (a == null ? "no activation" : a) + ")";
                yield act.attrs().getString("approximate", "none").equals("tanh") ? null
                        : "cuBLASLt's GELU epilogue is the tanh approximation; this Gelu is exact (approximate='none'): see cublaslt.gemm.bias_gelu_erf";
            }
            case BIAS_GELU_ERF -> {
                if (!"Gelu".equals(a)) yield "the epilogue is bias + exact GELU (got " + (a == null ? "no activation" : a) + ")";
                yield act.attrs().getString("approximate", "none").equals("tanh") ? "this Gelu is the tanh approximation: see cublaslt.gemm.bias_gelu" : null;
            }
            case BIAS_TANH -> "Tanh".equals(a) ? null : "the epilogue is bias + Tanh (got " + (a == null ? "no activation" : a) + ")";
            case NONE -> null;
        };
    }

    @Override public long workspaceBytes(Node n, Precision p) {
        return config.workspaceCap;
    }

    /** Activations the bias epilogue takes as Tessel's activation kernel after the GEMM (the GPU's GemmLayers). */
    static final java.util.Set<String> POST_ACTIVATIONS = java.util.Set.of("Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Clip");

    /**
     * Exact GELU and Tanh run as a second kernel over the output after the matmul, not overlapped with it: its time (the
     * output read and written once more, at the streaming rate) adds to the matmul's. An H100 timed BERT-base b32's
     * [4096x768]x[768x3072] with the erf GELU at 75.2 us against 27.8 us for the [4096x768]x[768x2304] with a plain bias.
     */
    @Override public org.tessel.cost.Cost cost(org.tessel.cost.CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs) {
        // at INT8 (bias, residual, ReLU) cuBLASLt's requantizing form scales, adds, clamps and writes the int8 output in the
        // matmul's own epilogue (the runtime's Int8Gemm.requantizing), so no second pass runs, at that form's output rate
        if (p == Precision.INT8) {
            org.tessel.cost.Cost c = model.estimate(id(), ImmaOutput.weighted(org.tessel.cost.Work.of(n, p), false), features(n, p, l), p, cudaGraphs);
            return c.withWorkspace(c.workspaceBytes() + workspaceBytes(n, p));
        }
        org.tessel.cost.Cost gemm = super.cost(model, n, p, l, cudaGraphs);
        // at FP8 the activation rides in Tessel's epilogue pass, which every such GEMM has
        if (p == Precision.FP8) return plus(gemm, quantizedEpilogue(model, n, p, cudaGraphs));
        boolean post = config.epilogue == Epilogue.BIAS && NodeFacts.activation(n) != null; // the activation kernel after the bias epilogue
        if (config.epilogue != Epilogue.BIAS_GELU_ERF && config.epilogue != Epilogue.BIAS_TANH && !post) return gemm;
        var out = n.output().type();
        double bytes = org.tessel.cost.Work.bytes(out, p);
        return plus(gemm, model.estimate(id(), new org.tessel.cost.Work(out.numElements() * 8.0, bytes, bytes, 0, 0, 0),
                TacticFeatures.streaming(0.5, config.memoryEfficiency, 1), p, cudaGraphs));
    }

    /** Two kernels one after the other: their times add (the second's pass in both its compute and memory bounds, as above). */
    private static org.tessel.cost.Cost plus(org.tessel.cost.Cost gemm, org.tessel.cost.Cost pass) {
        double t = Math.max(pass.computeUs(), pass.memoryUs());
        return new org.tessel.cost.Cost(gemm.computeUs() + t, gemm.memoryUs() + t, gemm.launchUs() + pass.launchUs(), gemm.workspaceBytes());
    }

    /** f32 operations an element of the quantized epilogue takes: widening, bias, residual, the division by the output's scale, the e4m3 or int8 rounding. */
    static final double QUANTIZED_EPILOGUE_FLOPS = 48;
    /** More for the activation it applies: CUDA's erfcf (exact GELU) and tanhf (tanh GELU, Tanh) are tens of instructions each. */
    static final double ERF_FLOPS = 96, TANH_FLOPS = 64;

    /**
     * Tessel's FP8 epilogue (Fp8Epilogue) as the second kernel it is: the GEMM's bf16 results read once more, the 1-byte
     * output written, and its per-element work on CUDA cores. Before it was priced, BERT-base b32's FP8 FFN1 (exact GELU) was predicted at 16.9 us and ran at 80.9 on an
     * H100 (its FP16 form, GEMM and GELU, 56 us), and the joint search chose it; FFN2 (no activation) 21.7 against 26.6.
     */
    private org.tessel.cost.Cost quantizedEpilogue(org.tessel.cost.CostModel model, Node n, Precision p, boolean cudaGraphs) {
        double elements = n.output().type().numElements();
        double flops = QUANTIZED_EPILOGUE_FLOPS + switch (config.epilogue) {
            case BIAS_GELU_ERF -> ERF_FLOPS;
            case BIAS_GELU, BIAS_TANH -> TANH_FLOPS;
            default -> 0;
        };
        double read = elements * 2, written = elements;
        return model.estimate(id(), new org.tessel.cost.Work(elements * flops, read, written, 0, 0, 0),
                TacticFeatures.streaming(0.5, config.memoryEfficiency, 1), Precision.FP32, cudaGraphs);
    }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        boolean tc = p != Precision.FP32;
        double eff = tc ? config.tensorEfficiency : config.cudaEfficiency;
        int align = switch (p) {
            case FP32 -> 1;
            case TF32 -> 4;
            case FP16, BF16 -> 8;
            case INT8, FP8 -> 16;
        };
        // the matmul's own kernel; exact GELU's and Tanh's second kernel is priced in cost()
        // cuBLASLt's heuristic picks stream-K kernels where the tiles leave a partial wave: an H100 ran BERT-base b32's
        // [4096x3072]x[3072x768] (192 tiles of 128x128) at 32.5 us, as fast as the [4096x768]x[768x3072] (768 tiles)
        return new TacticFeatures(eff, tc, config.tileM, config.tileN, config.tileK, align, config.memoryEfficiency, 1).withStreamK(true);
    }
}

package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.CublasLtGemm;
import org.tessel.runtime.gpu.kernels.Fp8Epilogue;
import org.tessel.runtime.gpu.kernels.TransformerKernels;
import org.tessel.tactics.gemm.GemmTactics;

/**
 * GEMMs through cuBLASLt:
 * <ul>
 *   <li>{@code cublaslt.gemm}: a Gemm node (alpha = beta = 1, transA = 0), its C vector on the bias epilogue;
 *       variant {@code heuristic_I}: the heuristic's I-th algorithm (0 unless tuned or planned);</li>
 *   <li>{@code cublaslt.gemm.bias[_relu|_gelu|_gelu_erf|_tanh]}: {@code tessel.Fused} kind=gemm_bias_act,
 *       MatMul(x[..,K], W[K,N]) [+ bias[N]] [+ residual] [+ Gelu | Relu | Tanh] as one cuBLASLt matmul
 *       (M = product of x's leading dims) with the epilogue the id names, the residual as C with beta = 1
 *       (variant {@code residual}); the graph's Gelu is exact (erf) while cuBLASLt's GELU epilogue is the tanh
 *       form, so an erf GELU (and Tanh) runs as Tessel's kernel in place after the bias epilogue; variant
 *       {@code batched_P} (a merged GEMM of P equal parts the plan splits as {@code tessel.split.view}): one
 *       strided-batched matmul of P [M,K]x[K,N/P] GEMMs sharing x, each part's weights and bias its own, the output
 *       the parts one after another, so each Split output is a contiguous slice.</li>
 * </ul>
 * The id of a fused GEMM is fixed by its body: a plan naming another epilogue is refused, naming the node.
 */
public final class GemmLayers implements TacticImplementation {
    @Override public List<String> tacticIds() {
        return List.of(GpuTactics.GEMM, GpuTactics.GEMM_BIAS, GpuTactics.GEMM_BIAS_RELU, GpuTactics.GEMM_BIAS_GELU, GpuTactics.GEMM_BIAS_GELU_ERF, GpuTactics.GEMM_BIAS_TANH);
    }

    @Override public boolean computes(Node n) {
        return n.opName().equals("Gemm") || weightsMatMul(n) || n.opName().equals("tessel.Fused") && n.attrs().getString("kind", "").equals("gemm_bias_act")
                && org.tessel.tactics.NodeFacts.anchor(n, java.util.Set.of("Gemm", "MatMul")) != null; // a weight-only MatMul's group is QuantizedMatMulLayers'
    }

    /** A MatMul of activations [.., K] by constant 2-D weights [K, N] (a projection without bias, as a Llama's). */
    static boolean weightsMatMul(Node n) {
        return n.opName().equals("MatMul") && n.body() == null && n.input(1).constantValue() != null && n.input(1).type().rank() == 2 && n.input(0).type().rank() >= 2;
    }

    @Override public String ruleTactic(LayerContext c, Node n) {
        if (!computes(n)) return null;
        // the fixed rule keeps tessel.matmul for MatMul nodes (plans name cublaslt.gemm for a weights MatMul)
        if (n.opName().equals("MatMul")) return null;
        return n.opName().equals("Gemm") ? GpuTactics.GEMM : epilogueId(n);
    }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        List<String> parts = GpuTactics.parts(tactic);
        String id = parts.get(0);
        if (n.opName().equals("MatMul")) {
            if (!id.equals(GpuTactics.GEMM)) throw GpuEngineException.unsupported(n, "a MatMul node runs as " + GpuTactics.GEMM + ", not " + id);
            if (c.precision() == GpuEngine.Precision.INT8 || c.precision() == GpuEngine.Precision.FP8)
                throw GpuEngineException.unsupported(n, "a MatMul alone runs on cuBLASLt at float precisions; quantized, it runs inside a fused gemm_bias_act");
            return gemm(c, n, parts.size() > 1 ? parts.get(1) : null);
        }
        if (n.opName().equals("Gemm")) {
            if (!id.equals(GpuTactics.GEMM)) throw GpuEngineException.unsupported(n, "a Gemm node runs as " + GpuTactics.GEMM + " (its C vector on the bias epilogue), not " + id);
            if (c.precision() == GpuEngine.Precision.INT8) {
                String why = int8WhyNot(n, id);
                if (why != null) throw GpuEngineException.unsupported(n, why);
                Attributes a = n.attrs();
                return Int8Layers.gemm(c, n, id, n.input(0), n.input(1), a.getInt("transB", 0) != 0, n.numInputs() > 2 ? n.input(2) : null, null, false);
            }
            if (c.precision() == GpuEngine.Precision.FP8) {
                String why = fp8WhyNot(n, id);
                if (why != null) throw GpuEngineException.unsupported(n, why);
                return Fp8Layers.gemm(c, n, id, n.input(0), n.input(1), n.attrs().getInt("transB", 0) != 0, n.numInputs() > 2 ? n.input(2) : null, null,
                        Fp8Epilogue.Activation.NONE);
            }
            return gemm(c, n, parts.size() > 1 ? parts.get(1) : null);
        }
        if (n.body() == null) throw GpuEngineException.unsupported(n, "tessel.Fused without a body");
        String variant = parts.size() > 1 ? tactic.substring(id.length() + 1) : "";
        return gemmBiasAct(c, n, id, GemmTactics.batchedParts(variant));
    }

    /**
     * cuBLASLt's INT8 GEMM (K and N multiples of 4) with Tessel's epilogue: a Gemm node (transA 0, alpha = beta = 1, a
     * bias vector), or a gemm_bias_act body of 2-D constant weights with bias, residual and ReLU (no GELU or Tanh).
     */
    @Override public String int8WhyNot(Node n, String id) {
        QuantizedGemm q = QuantizedGemm.of(n, "INT8");
        if (q.whyNot() != null) return q.whyNot();
        if (q.mm().input(1).type().rank() != 2) return "the INT8 GEMM's weights are 2-D (got " + q.mm().input(1).type().shape() + ")";
        return Int8Layers.gemmWhyNot(q.k(), q.n(), q.act());
    }

    /**
     * What the quantized (INT8, FP8) GEMM checks read from a Gemm node or a gemm_bias_act body: its MatMul/Gemm, the
     * body's activation (null: none), K and N; {@code whyNot} when the node has no quantizable GEMM (no body, no
     * MatMul, a Gemm with transA or alpha/beta other than 1).
     */
    private record QuantizedGemm(Node mm, String act, int k, int n, String whyNot) {
        static QuantizedGemm of(Node node, String format) {
            Node mm = node;
            String act = null;
            if (node.opName().equals("tessel.Fused")) {
                if (node.body() == null) return refused("tessel.Fused without a body");
                mm = null;
                for (Node b : node.body().nodes()) {
                    if (b.opName().equals("MatMul") || b.opName().equals("Gemm")) mm = b;
                    else if (!b.opName().equals("Add")) act = b.opName();
                }
                if (mm == null) return refused("gemm_bias_act body without a MatMul");
            }
            if (mm.opName().equals("Gemm") && (mm.attrs().getInt("transA", 0) != 0 || mm.attrs().getFloat("alpha", 1f) != 1f || mm.attrs().getFloat("beta", 1f) != 1f))
                return refused("an " + format + " Gemm has transA 0 and alpha = beta = 1");
            boolean transB = mm.opName().equals("Gemm") && mm.attrs().getInt("transB", 0) != 0;
            Value w = mm.input(1);
            int kk = mm.input(0).type().shape().dim(mm.input(0).type().rank() - 1);
            int nn = w.type().rank() != 2 ? -1 : transB ? w.type().shape().dim(0) : w.type().shape().dim(1);
            return new QuantizedGemm(mm, act, kk, nn, null);
        }

        private static QuantizedGemm refused(String why) { return new QuantizedGemm(null, null, 0, 0, why); }
    }

    /**
     * cuBLASLt's FP8 GEMM ({@link org.tessel.runtime.gpu.kernels.Fp8Gemm}: the "TN" form, K and N multiples of 16, 2-D
     * constant weights, f32 accumulation) with Tessel's FP8 epilogue (bias, residual, ReLU, GELU or Tanh; {@link Fp8Layers})
     * for a Gemm node (transA 0, alpha = beta = 1) or a gemm_bias_act body.
     */
    @Override public String fp8WhyNot(Node n, String id) {
        QuantizedGemm q = QuantizedGemm.of(n, "FP8");
        if (q.whyNot() != null) return q.whyNot();
        Value w = q.mm().input(1);
        if (w.type().rank() != 2 || !org.tessel.tactics.NodeFacts.isConstant(n, w))
            return "the FP8 GEMM's weights are a 2-D constant (got " + w.type().shape() + ")";
        // the rows (M) are cuBLASLt's n, no leading dimension: any M (a pooler's one row) runs
        if (q.k() % 16 != 0 || q.n() % 16 != 0)
            return "cuBLASLt's FP8 kernels here need K and N multiples of 16 (got K=" + q.k() + ", N=" + q.n() + ")";
        return null;
    }

    /** The epilogue id a gemm_bias_act body asks for (its activation); the body is checked when built. */
    static String epilogueId(Node n) {
        if (n.body() == null) return GpuTactics.GEMM_BIAS;
        for (Node b : n.body().nodes())
            switch (b.opName()) {
                case "Relu" -> { return GpuTactics.GEMM_BIAS_RELU; }
                case "Tanh" -> { return GpuTactics.GEMM_BIAS_TANH; }
                case "Gelu" -> { return b.attrs().getString("approximate", "none").equals("tanh") ? GpuTactics.GEMM_BIAS_GELU : GpuTactics.GEMM_BIAS_GELU_ERF; }
                default -> {}
            }
        return GpuTactics.GEMM_BIAS;
    }

    /** A Gemm node; {@code variant} {@code heuristic_I} picks cuBLASLt's I-th algorithm (else the tuner's pick, else 0). */
    /** A Gemm node (rank-2, its C vector on the bias epilogue) or a weights MatMul ([.., K] rows by [K, N], no bias). */
    private static Layer gemm(LayerContext c, Node n, String variant) {
        Attributes a = n.attrs();
        if (a.getInt("transA", 0) != 0) throw GpuEngineException.unsupported(n, "Gemm with transA=1");
        if (a.getFloat("alpha", 1f) != 1f || a.getFloat("beta", 1f) != 1f) throw GpuEngineException.unsupported(n, "Gemm with alpha/beta other than 1");
        boolean matmul = n.opName().equals("MatMul");
        Value x = n.input(0), w = n.input(1), bias = !matmul && n.numInputs() > 2 ? n.input(2) : null, y = n.output();
        boolean transB = a.getInt("transB", 0) != 0;
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        int kk = xd[xd.length - 1], nn = transB ? wd[0] : wd[1];
        long rows = x.type().numElements() / Math.max(1, kk);
        if (rows > Integer.MAX_VALUE) throw GpuEngineException.unsupported(n, "M = " + rows + " rows is too many");
        int m = (int) rows;
        if ((transB ? wd[1] : wd[0]) != kk || y.type().numElements() != rows * nn)
            throw GpuEngineException.unsupported(n, n.opName() + " of " + x.type().shape() + " by " + w.type().shape() + " giving " + y.type().shape());
        if (bias != null && bias.type().numElements() != nn) throw GpuEngineException.unsupported(n, "Gemm bias of shape " + bias.type().shape() + " (supported: a vector of N=" + nn + ")");
        if (variant != null && !variant.startsWith(HEURISTIC)) throw GpuEngineException.unsupported(n, "variant '" + variant + "' of " + GpuTactics.GEMM + " is not " + HEURISTIC + "I");
        CublasLtGemm.Precision lp = lp(c.precision());
        DeviceBuffer xb = c.activation(x), wb = c.weight(w, Layout.ANY), yb = c.activation(y);
        DeviceBuffer bb = bias == null ? null : c.weight(bias, Layout.ANY);
        CublasLt.Epilogue epi = bias == null ? CublasLt.Epilogue.DEFAULT : CublasLt.Epilogue.BIAS;
        java.util.function.Supplier<DeviceBuffer> workspace = c.workspace();
        Autotuner tuner = c.tuner();
        CublasLtGemm g = CublasLtGemm.plan(c.cublasLt(), new CublasLtGemm.Spec(m, nn, kk, transB, lp, epi), bb, tuner == null && variant == null ? 1 : Autotuner.GEMM_ALGOS);
        if (g.algos().isEmpty()) { g.close(); throw GpuEngineException.unsupported(n, "cuBLASLt has no algorithm for " + m + "x" + nn + "x" + kk + " " + lp); }
        int algo;
        try {
            algo = variant != null ? heuristic(n, variant, g.algos().size()) : tuner == null ? 0 : tuner.gemm(g, n, xb, wb, yb);
        } catch (RuntimeException ex) {
            g.close();
            throw ex;
        }
        // the fixed rule's algorithm 0 is the bare id; a planned or tuned one names its index
        String tactic = tuner == null && variant == null ? GpuTactics.GEMM : GpuTactics.variant(GpuTactics.GEMM, HEURISTIC + algo);
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(n, tactic, y); }
            @Override public void enqueue(CudaStream s) { g.run(algo, xb, wb, yb, workspace.get(), s); }
            @Override public void close() { g.close(); }
        };
    }

    private static final String HEURISTIC = "heuristic_";

    /** The heuristic index of variant heuristic_I; the heuristic's order is fixed for a library version. */
    private static int heuristic(Node n, String variant, int offered) {
        int i;
        try {
            i = Integer.parseInt(variant.substring(HEURISTIC.length()));
        } catch (NumberFormatException e) {
            throw GpuEngineException.unsupported(n, "variant '" + variant + "' has no algorithm index");
        }
        if (i < 0 || i >= offered) throw GpuEngineException.unsupported(n, "variant '" + variant + "' names cuBLASLt algorithm " + i + ", the heuristic now offers " + offered);
        return i;
    }

    /** cuBLASLt's epilogue for an optional ReLU after an optional bias. */
    static CublasLt.Epilogue epilogue(boolean relu, boolean bias) {
        return relu ? (bias ? CublasLt.Epilogue.RELU_BIAS : CublasLt.Epilogue.RELU) : (bias ? CublasLt.Epilogue.BIAS : CublasLt.Epilogue.DEFAULT);
    }

    static CublasLtGemm.Precision lp(GpuEngine.Precision p) {
        return switch (p) {
            case FP32 -> CublasLtGemm.Precision.FP32;
            case TF32 -> CublasLtGemm.Precision.TF32;
            case FP16 -> CublasLtGemm.Precision.FP16;
            case BF16 -> CublasLtGemm.Precision.BF16;
            case INT8 -> throw new IllegalArgumentException("an INT8 GEMM runs through Int8Layers, not a floating cuBLASLt plan");
            case FP8 -> throw new IllegalArgumentException("an FP8 GEMM runs through Fp8Layers, not a floating cuBLASLt plan");
        };
    }

    private enum Act { NONE, RELU, GELU_ERF, GELU_TANH, TANH }

    /**
     * What the batched form needs, else refused naming the node: no residual, N a multiple of the parts, and the
     * output read by one Split the plan runs as {@code tessel.split.view} into that many parts (only the views read
     * the parts-one-after-another layout).
     */
    private static void requireBatchable(LayerContext e, Node n, Value y, int nn, int parts, Value residual) {
        String v = GemmTactics.batchedVariant(parts);
        if (residual != null) throw GpuEngineException.unsupported(n, "variant " + v + ": a batched GEMM takes no residual (%" + residual.name() + ")");
        if (nn % parts != 0) throw GpuEngineException.unsupported(n, "variant " + v + ": N=" + nn + " is not " + parts + " equal parts");
        List<Node> users = e.graph().users(y);
        Node split = users.size() == 1 ? users.getFirst() : null;
        String planned = split == null ? null : e.planned(split);
        if (split == null || !split.opName().equals("Split") || planned == null || !GpuTactics.catalogueId(planned).equals(GpuTactics.SPLIT_VIEW)
                || split.outputs().size() != parts)
            throw GpuEngineException.unsupported(n, "variant " + v + " writes its " + parts + " parts one after another, which only a Split into " + parts
                    + " parts planned as " + GpuTactics.SPLIT_VIEW + " reads; %" + y.name() + " is read by "
                    + users.stream().map(u -> u.name() + " (" + u.opName() + (e.planned(u) == null ? "" : ", " + e.planned(u)) + ")").toList());
    }

    /** Weights [K, P*N] as the P parts' [K, N] matrices one after another ([P][K][N]). */
    static org.tessel.api.Tensor partsOneAfterAnother(org.tessel.api.Tensor w, int parts) {
        int k = w.shape().dim(0), total = w.shape().dim(1), n = total / parts;
        org.tessel.api.Tensor out = org.tessel.api.Tensor.zeros(w.dtype(), org.tessel.api.Shape.of(parts, k, n));
        for (int j = 0; j < parts; j++)
            for (int r = 0; r < k; r++)
                for (int c = 0; c < n; c++) out.setDouble((j * k + r) * n + c, w.getDouble(r * total + j * n + c));
        return out;
    }

    /** {@code batched}: the parts of the planned batched form (0: one GEMM). */
    private static Layer gemmBiasAct(LayerContext e, Node n, String planned, int batched) {
        if (batched > 0 && e.precision().quantized())
            throw GpuEngineException.unsupported(n, "the batched GEMM (variant " + GemmTactics.batchedVariant(batched) + ") runs at the floating precisions, not " + e.precision());
        DType t = e.storage();
        Graph body = n.body();
        Node mm = null;
        Value cur = null, bias = null, residual = null;
        Act act = Act.NONE;
        ConvLayers.Act post = null; // an activation no cuBLASLt epilogue has: Tessel's activation kernel after the GEMM
        for (Node b : body.nodes()) {
            switch (b.opName()) {
                case "MatMul", "Gemm" -> {
                    if (mm != null) throw GpuEngineException.unsupported(n, "gemm_bias_act body has two MatMul/Gemm nodes");
                    mm = b;
                    cur = b.output();
                    if (b.opName().equals("Gemm")) {
                        if (b.attrs().getInt("transA", 0) != 0) throw GpuEngineException.unsupported(n, "Gemm '" + b.name() + "' with transA=1");
                        if (b.attrs().getFloat("alpha", 1f) != 1f || b.attrs().getFloat("beta", 1f) != 1f) throw GpuEngineException.unsupported(n, "Gemm '" + b.name() + "' with alpha/beta other than 1");
                        if (b.numInputs() > 2 && b.input(2) != null) {
                            Value o = ConvLayers.outer(n, body, b.input(2));
                            int nn = cur.type().shape().dim(cur.type().rank() - 1);
                            if (!o.isConstant() || o.type().numElements() != nn) throw GpuEngineException.unsupported(n, "Gemm '" + b.name() + "' C operand " + o.type().shape() + " is not a bias [" + nn + "]");
                            bias = o;
                        }
                    }
                }
                case "Add" -> {
                    if (cur == null || act != Act.NONE) throw GpuEngineException.unsupported(n, "gemm_bias_act body: Add '" + b.name() + "' must follow the MatMul, before the activation");
                    Value other = b.input(0) == cur ? b.input(1) : b.input(1) == cur ? b.input(0) : null;
                    if (other == null) throw GpuEngineException.unsupported(n, "gemm_bias_act body: Add '" + b.name() + "' does not take the MatMul result");
                    Value o = ConvLayers.outer(n, body, other);
                    int nn = cur.type().shape().dim(cur.type().rank() - 1);
                    if (o.isConstant() && o.type().numElements() == nn && bias == null && residual == null) bias = o;
                    else if (!o.isConstant() && other.type().shape().equals(cur.type().shape()) && residual == null) residual = o;
                    else throw GpuEngineException.unsupported(n, "gemm_bias_act body: Add '" + b.name() + "' of " + other.type().shape() + " is neither a bias [" + nn + "] nor a residual " + cur.type().shape());
                    cur = b.output();
                }
                case "Tanh" -> {
                    if (cur == null || act != Act.NONE || b.input(0) != cur) throw GpuEngineException.unsupported(n, "gemm_bias_act body: Tanh must take the GEMM (+ bias, + residual) result");
                    act = Act.TANH;
                    cur = b.output();
                }
                case "Relu", "Gelu" -> {
                    if (cur == null || act != Act.NONE || b.input(0) != cur) throw GpuEngineException.unsupported(n, "gemm_bias_act body: " + b.opName() + " must take the MatMul (+ bias, + residual) result");
                    act = b.opName().equals("Relu") ? Act.RELU : b.attrs().getString("approximate", "none").equals("tanh") ? Act.GELU_TANH : Act.GELU_ERF;
                    cur = b.output();
                }
                case "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Clip" -> {
                    if (cur == null || act != Act.NONE || post != null || b.input(0) != cur) throw GpuEngineException.unsupported(n, "gemm_bias_act body: " + b.opName() + " must take the MatMul (+ bias, + residual) result");
                    post = ConvLayers.act(n, body, b);
                    cur = b.output();
                }
                default -> throw GpuEngineException.unsupported(n, "gemm_bias_act body op " + b.opName() + " (node '" + b.name() + "') is not MatMul/Gemm/Add or an activation (Relu, Gelu, Tanh, Sigmoid, HardSigmoid, HardSwish, LeakyRelu, Clip)");
            }
        }
        if (mm == null || body.outputs().size() != 1 || body.outputs().get(0) != cur) throw GpuEngineException.unsupported(n, "gemm_bias_act body must be one MatMul chain ending in the body's only output");
        Value x = ConvLayers.outer(n, body, mm.input(0)), w = ConvLayers.outer(n, body, mm.input(1)), y = n.output();
        boolean transB = mm.opName().equals("Gemm") && mm.attrs().getInt("transB", 0) != 0;
        if (w.constantValue() == null || w.type().rank() != 2) throw GpuEngineException.unsupported(n, "weights %" + w.name() + " must be a 2-D constant ([K,N], or [N,K] with transB)");
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        int kk = xd[xd.length - 1], nn = transB ? wd[0] : wd[1];
        if ((transB ? wd[1] : wd[0]) != kk) throw GpuEngineException.unsupported(n, mm.opName() + " of " + x.type().shape() + " by " + w.type().shape() + (transB ? " (transB)" : ""));
        long m = x.type().numElements() / kk;
        if (m > Integer.MAX_VALUE) throw GpuEngineException.unsupported(n, "M = " + m + " rows is too many");
        if (y.type().numElements() != m * nn) throw GpuEngineException.unsupported(n, "output " + y.type().shape() + " is not [" + m + "," + nn + "]");
        if (post != null && (e.precision() == GpuEngine.Precision.INT8 || e.precision() == GpuEngine.Precision.FP8))
            throw GpuEngineException.unsupported(n, "the " + e.precision() + " GEMM epilogue takes no " + post.name() + " (Tessel's activation kernel runs after float GEMMs only)");
        if (e.precision() == GpuEngine.Precision.INT8) {
            if (act != Act.NONE && act != Act.RELU) throw GpuEngineException.unsupported(n, "the INT8 GEMM epilogue takes bias, residual and ReLU (got " + act.name().toLowerCase(java.util.Locale.ROOT) + ")");
            String id = act == Act.RELU ? GpuTactics.GEMM_BIAS_RELU : GpuTactics.GEMM_BIAS;
            if (!planned.equals(id)) throw GpuEngineException.unsupported(n, "the plan names " + planned + ", and this GEMM's epilogue is " + id + "'s");
            if (w.constantValue() == null) throw GpuEngineException.unsupported(n, "INT8 weights %" + w.name() + " must be a constant");
            return Int8Layers.gemm(e, n, id, x, w, transB, bias, residual, act == Act.RELU);
        }
        if (e.precision() == GpuEngine.Precision.FP8) {
            String id = epilogueId(n);
            if (!planned.equals(id)) throw GpuEngineException.unsupported(n, "the plan names " + planned + ", and this GEMM's epilogue is " + id + "'s");
            Fp8Epilogue.Activation fa = switch (act) {
                case NONE -> Fp8Epilogue.Activation.NONE;
                case RELU -> Fp8Epilogue.Activation.RELU;
                case GELU_ERF -> Fp8Epilogue.Activation.GELU_ERF;
                case GELU_TANH -> Fp8Epilogue.Activation.GELU_TANH;
                case TANH -> Fp8Epilogue.Activation.TANH;
            };
            return Fp8Layers.gemm(e, n, id, x, w, transB, bias, residual, fa);
        }
        if (batched > 0) requireBatchable(e, n, y, nn, batched, residual);
        CublasLtGemm.Precision lp = lp(e.precision());
        DeviceBuffer xb = e.activation(x), yb = e.activation(y);
        DeviceBuffer wb = batched > 0 && !transB ? e.upload(partsOneAfterAnother(w.constantValue(), batched), w, GemmTactics.batchedVariant(batched)) : e.weight(w, Layout.ANY);
        DeviceBuffer bb = bias == null ? null : e.weight(bias, Layout.ANY);
        DeviceBuffer rb = residual == null ? null : e.activation(residual);
        CublasLt.Epilogue epi = switch (act) {
            case NONE, GELU_ERF, TANH -> epilogue(false, bias != null);
            case RELU -> epilogue(true, bias != null);
            case GELU_TANH -> bias == null ? CublasLt.Epilogue.GELU : CublasLt.Epilogue.GELU_BIAS;
        };
        int parts = Math.max(1, batched);
        CublasLtGemm g = CublasLtGemm.plan(e.cublasLt(), new CublasLtGemm.Spec((int) m, nn / parts, kk, transB, lp, epi, parts), bb, 1);
        if (g.algos().isEmpty()) { g.close(); throw GpuEngineException.unsupported(n, "cuBLASLt has no algorithm for " + m + "x" + nn + "x" + kk + " " + lp); }
        // the catalogue id names the epilogue (with or without its bias); a residual rides on C and is a variant
        String id = switch (act) {
            case NONE -> GpuTactics.GEMM_BIAS;
            case RELU -> GpuTactics.GEMM_BIAS_RELU;
            case GELU_TANH -> GpuTactics.GEMM_BIAS_GELU;
            case GELU_ERF -> GpuTactics.GEMM_BIAS_GELU_ERF;
            case TANH -> GpuTactics.GEMM_BIAS_TANH;
        };
        if (!planned.equals(id)) {
            g.close();
            throw GpuEngineException.unsupported(n, "the plan names " + planned + ", and this GEMM's epilogue (" + act.name().toLowerCase(java.util.Locale.ROOT)
                    + (bias == null ? "" : ", bias") + ") is " + id + "'s");
        }
        String tactic = (residual != null ? GpuTactics.variant(id, "residual") : batched > 0 ? GpuTactics.variant(id, GemmTactics.batchedVariant(batched)) : id)
                + (post == null ? "" : post.variantSuffix());
        Act epiloguePost = act;
        ConvLayers.Act activation = post;
        long elems = y.type().numElements();
        java.util.function.Supplier<DeviceBuffer> ws = e.workspace();
        return new Layer() {
            @Override public LayerPlan plan() { return e.plan(n, tactic, y); }
            @Override public void enqueue(CudaStream s) {
                if (rb != null) g.run(0, xb, wb, 1f, rb, yb, ws.get(), s);
                else g.run(xb, wb, yb, ws.get(), s);
                if (epiloguePost == Act.GELU_ERF) TransformerKernels.geluErf(e.kernels(), t, yb, elems, s);
                else if (epiloguePost == Act.TANH) TransformerKernels.tanh(e.kernels(), t, yb, elems, s);
                if (activation != null) activation.apply(e, t, yb, elems, s);
            }
            @Override public void close() { g.close(); }
        };
    }

}

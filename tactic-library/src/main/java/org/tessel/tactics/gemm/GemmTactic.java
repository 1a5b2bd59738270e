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
 * Tactic that runs a Gemm or MatMul (batched: strided-batched GEMM) with cuBLAS, cuBLASLt and its
 * epilogues, or a Tessel-generated GEMM with any epilogue. The epilogue variants take fused
 * gemm_bias_act nodes whose tail matches them. Named instances are in {@link GemmTactics}.
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
        /** A generated epilogue: any bias and activation. */
        ANY
    }

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

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        long[] d = Work.gemmDims(NodeFacts.anchor(n, GEMMS));
        if (p == Precision.INT8 && (d[2] % 4 != 0 || d[1] % 4 != 0))
            return "INT8 needs K and N that are multiples of 4 (got K=" + d[2] + ", N=" + d[1] + ")";
        if (config.epilogue == Epilogue.NONE) return null;
        Node act = NodeFacts.activation(n);
        String a = act == null ? null : act.opName();
        return switch (config.epilogue) {
            case BIAS -> a != null ? "the bias epilogue has no activation (got " + a + "); see cublaslt.gemm.bias_relu/bias_gelu"
                    : hasBias(n) ? null : "no bias Add to fuse";
            case BIAS_RELU -> "Relu".equals(a) ? null : "the epilogue is bias + Relu (got " + (a == null ? "no activation" : a) + ")";
            case BIAS_GELU -> {
                if (!"Gelu".equals(a)) yield "the epilogue is bias + GELU (got " + (a == null ? "no activation" : a) + ")";
                yield act.attrs().getString("approximate", "none").equals("tanh") ? null
                        : "cuBLASLt's GELU epilogue is the tanh approximation; this Gelu is exact (approximate='none')";
            }
            case ANY -> {
                int vec = 16 / p.storage().bytes();
                yield d[1] % vec != 0 || d[2] % vec != 0 ? "needs K and N that are multiples of " + vec + " for 16-byte loads (got K=" + d[2] + ", N=" + d[1] + ")" : null;
            }
            case NONE -> null;
        };
    }

    @Override public long workspaceBytes(Node n, Precision p) {
        return config.workspaceCap;
    }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        boolean tc = p != Precision.FP32;
        double eff = tc ? config.tensorEfficiency : config.cudaEfficiency;
        int align = switch (p) {
            case FP32 -> 1;
            case TF32 -> 4;
            case FP16, BF16 -> 8;
            case INT8 -> 16;
        };
        return new TacticFeatures(eff, tc, config.tileM, config.tileN, config.tileK, align, config.memoryEfficiency, 1);
    }
}

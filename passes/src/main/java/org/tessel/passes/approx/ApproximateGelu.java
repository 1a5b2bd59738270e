package org.tessel.passes.approx;

import org.tessel.api.AttrValue;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;

/**
 * Pass that turns every exact GELU ({@code Gelu} with {@code approximate="none"}, x * Phi(x) by erf) into the tanh
 * approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the form cuBLASLt's GELU epilogue computes, so a GEMM
 * and its GELU run as one kernel instead of a GEMM and a second pass over its output.
 *
 * <p>The two differ by at most {@value #MAX_ABS_ERROR} absolute, at |x| = 2.7 (about the half-ULP of an FP16 value
 * between 1 and 2); NVIDIA's TensorRT BERT demo and FasterTransformer run BERT's GELU in this form. It changes the
 * graph's values by design, so it is not meaning preserving: pipelines run it only when the user asks
 * ({@code tessel build|search --approximate-gelu}), after composite recognition has turned decomposed
 * {@code 0.5 x (1 + erf(x / sqrt 2))} subgraphs into {@code Gelu} nodes. Fused bodies are rewritten as well.
 */
public final class ApproximateGelu implements Pass {
    /** The largest |gelu_tanh(x) - gelu_erf(x)| over the reals (4.732e-4 at |x| = 2.699, by a dense scan; the gap is even in x). */
    public static final double MAX_ABS_ERROR = 4.74e-4;
    public static final String NAME = "approximate-gelu";
    private static final PassInfo INFO = PassInfo.named(NAME, "Compute exact (erf) GELUs as the tanh approximation, which GEMM epilogues fuse (|error| <= 4.74e-4; changes values)")
            .statistic("gelus-approximated", "Gelu nodes turned from approximate='none' into approximate='tanh'")
            .build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph graph, PassContext ctx) {
        return rewrite(graph, ctx);
    }

    private static boolean rewrite(Graph g, PassContext ctx) {
        boolean changed = false;
        for (Node n : g.nodes()) {
            if (n.body() != null) changed |= rewrite(n.body(), ctx);
            if (!n.opName().equals("Gelu") || n.attrs().getString("approximate", "none").equals("tanh")) continue;
            n.setAttrs(n.attrs().with("approximate", AttrValue.of("tanh")));
            ctx.stats().inc("gelus-approximated");
            changed = true;
        }
        return changed;
    }
}

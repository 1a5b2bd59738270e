package org.tessel.passes.fusion;

import org.tessel.ir.Graph;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;

/** Pass that only counts fusion candidates per kind (statistics); the search enumerates the same list. */
public final class ListFusionCandidates implements Pass {
    private static final PassInfo INFO = PassInfo.named("fusion-candidates", "Count fusion candidates per kind without applying them")
            .statistic("attention", "Attention candidates").statistic("conv_bias_act", "Conv chain candidates")
            .statistic("gemm_bias_act", "GEMM chain candidates").statistic("eltwise", "Elementwise chain candidates")
            .statistic("eltwise_gemm", "MatMul candidates with an elementwise prologue")
            .statistic("rmsnorm_gemm", "MatMul candidates with an RMSNormalization of A")
            .statistic("rope_attention", "Paged attention + rotary embedding candidates")
            .statistic(FusionPatterns.CONV_POOL, "Conv (+ bias, Relu) + MaxPool candidates").build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        for (FusionCandidate c : FusionPatterns.enumerate(g)) ctx.stats().inc(c.kind());
        return false;
    }
}

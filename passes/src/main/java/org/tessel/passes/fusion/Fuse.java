package org.tessel.passes.fusion;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.passes.GraphProperty;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;
import org.tessel.passes.rules.Rewriter;

/**
 * Pass that applies fusion candidates greedily: attention first, then conv and gemm chains, then
 * elementwise chains, skipping any candidate that overlaps one already taken. The search makes
 * the same decisions jointly instead; this pass is the TensorRT-style default.
 */
public final class Fuse implements Pass {
    static final PassOption KINDS = new PassOption("kinds", "attention;conv_bias_act;gemm_bias_act;eltwise", "Semicolon-separated fusion kinds to apply, in priority order");
    private static final PassInfo INFO = PassInfo.named("fuse", "Fuse conv/gemm + bias + activation, attention and elementwise chains into fused nodes")
            .options(KINDS)
            .statistic("fused-attention", "Attention patterns fused").statistic("fused-conv_bias_act", "Conv chains fused")
            .statistic("fused-gemm_bias_act", "GEMM chains fused").statistic("fused-eltwise", "Elementwise chains fused")
            .statistic("fused-rope_attention", "Paged attentions fused with their rotary embeddings")
            .establishes(GraphProperty.FUSED).invalidates(GraphProperty.MEMORY_PLANNED, GraphProperty.STREAMS_ASSIGNED, GraphProperty.SCHEDULE_FIXED).build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        List<String> kinds = List.of(ctx.option(KINDS).split(";"));
        boolean changed = false;
        // a candidate skipped for overlapping a higher-priority one may be legal after that one is fused
        for (int round = 0; round < 8; round++) {
            List<FusionCandidate> all = FusionPatterns.enumerate(g);
            List<FusionCandidate> chosen = new ArrayList<>();
            // the nodes already taken, so each candidate is checked in its own size, not against every chosen one
            Set<Node> taken = Collections.newSetFromMap(new IdentityHashMap<>());
            for (String kind : kinds)
                for (FusionCandidate c : all)
                    if (c.kind().equals(kind.trim()) && c.nodes().stream().noneMatch(taken::contains)) {
                        chosen.add(c);
                        taken.addAll(c.nodes());
                    }
            if (chosen.isEmpty()) break;
            Rewriter rw = new Rewriter(g, ctx.registry(), ctx.stats());
            for (FusionCandidate c : chosen) {
                FusionGroups.fuse(rw, c);
                ctx.stats().inc("fused-" + c.kind());
            }
            g.sortTopologically();
            changed = true;
        }
        return changed;
    }

    /** The kinds this pass knows, for config validation. */
    public static Set<String> knownKinds() { return Set.of("attention", "conv_bias_act", "gemm_bias_act", "eltwise", "rope_attention", FusionPatterns.CONV_POOL); }
}

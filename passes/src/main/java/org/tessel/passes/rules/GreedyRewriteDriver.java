package org.tessel.passes.rules;

import java.util.ArrayList;
import java.util.List;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;

/**
 * Applies rules over the graph, node by node in order, until a sweep changes nothing or the
 * iteration cap is reached (MLIR's greedy driver, kept deterministic by the node order).
 */
public final class GreedyRewriteDriver {
    private final List<RewriteRule> rules;
    private final int maxSweeps;

    public GreedyRewriteDriver(List<RewriteRule> rules, int maxSweeps) {
        this.rules = List.copyOf(rules);
        this.maxSweeps = maxSweeps;
    }

    /** Returns the number of successful rewrites. */
    public int run(Graph g, Rewriter rw) {
        int applied = 0;
        for (int sweep = 0; sweep < maxSweeps; sweep++) {
            int before = applied;
            for (Node n : new ArrayList<>(g.nodes())) {
                if (!g.contains(n)) continue;
                for (RewriteRule r : rules) {
                    if (!r.rootOps().isEmpty() && !r.rootOps().contains(n.opName())) continue;
                    if (r.matchAndRewrite(n, rw)) {
                        applied++;
                        rw.count(r.name());
                        break;
                    }
                }
            }
            if (applied == before) break;
        }
        return applied;
    }
}

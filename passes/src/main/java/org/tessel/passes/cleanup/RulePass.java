package org.tessel.passes.cleanup;

import java.util.List;
import org.tessel.ir.Graph;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;
import org.tessel.passes.rules.GreedyRewriteDriver;
import org.tessel.passes.rules.RewriteRule;
import org.tessel.passes.rules.Rewriter;

/** Pass that applies a fixed set of rewrite rules with the greedy driver; most rule-based passes are one of these. */
public final class RulePass implements Pass {
    static final PassOption MAX_SWEEPS = new PassOption("max-sweeps", "8", "Sweeps over the graph before giving up on a fixpoint");
    private final PassInfo info;
    private final List<RewriteRule> rules;

    public RulePass(PassInfo.Builder info, List<RewriteRule> rules) {
        for (RewriteRule r : rules) info.statistic(r.name(), "Applications of rule " + r.name());
        this.info = info.options(MAX_SWEEPS).build();
        this.rules = List.copyOf(rules);
    }

    @Override public PassInfo info() { return info; }

    public List<RewriteRule> rules() { return rules; }

    @Override public boolean run(Graph g, PassContext ctx) {
        Rewriter rw = new Rewriter(g, ctx.registry(), ctx.stats());
        int n = new GreedyRewriteDriver(rules, ctx.intOption(MAX_SWEEPS)).run(g, rw);
        if (n > 0) g.removeUnusedConstants();
        return n > 0;
    }
}

package org.tessel.passes.fusion;

import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;
import org.tessel.passes.rules.Rewriter;

/**
 * Pass for horizontal fusion: every {@link SiblingMerges#enumerate sibling merge} — Convs of one
 * geometry, MatMuls with constant [K, N] weights or Gemms reading the same value, each with the same
 * tail (a MatMul's bias Add, an activation) — becomes one wider op and its tail followed by a Split:
 * Inception's 1x1 branches, BERT's Q/K/V projections. The search offers each merge as a decision
 * instead (merged or not, priced); this pass takes them all.
 */
public final class MergeSiblings implements Pass {
    static final PassOption MIN = new PassOption("min-siblings", "2", "Merge only groups of at least this many siblings");
    private static final PassInfo INFO = PassInfo.named("merge-siblings", "Merge sibling Conv/MatMul/Gemm chains on one input into one wider chain plus a Split")
            .statistic("siblings-merged", "Sibling chains merged into a wider one")
            .statistic("merges", "Wider chains made")
            .options(MIN).build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        int min = ctx.intOption(MIN);
        Rewriter rw = new Rewriter(g, ctx.registry(), ctx.stats());
        boolean changed = false;
        // a merge replaces its chains' results by the Split's outputs, so a merge found on one of those results
        // in the same sweep reads a value that is gone: it is found again, on the Split's output, next sweep
        for (int round = 0; round < 16; round++) {
            boolean merged = false;
            for (SiblingMerge m : SiblingMerges.enumerate(g)) {
                if (m.chains().size() < min || !current(g, m)) continue;
                SiblingMerges.apply(rw, m);
                ctx.stats().add("siblings-merged", m.chains().size());
                ctx.stats().inc("merges");
                merged = true;
            }
            changed |= merged;
            if (!merged) break;
        }
        return changed;
    }

    /** Whether the merge still reads what it was found on: no earlier merge of this sweep replaced its input. */
    private static boolean current(Graph g, SiblingMerge m) {
        for (var c : m.chains())
            for (Node n : c) if (!g.contains(n)) return false;
        for (var c : m.chains()) if (c.getFirst().input(0) != m.input()) return false;
        return true;
    }
}

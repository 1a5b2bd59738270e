package org.tessel.passes.cleanup;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.tessel.api.Trait;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;

/** Pass that removes pure nodes none of whose outputs reach a graph output, and unused constants. */
public final class DeadCodeElimination implements Pass {
    private static final PassInfo INFO = PassInfo.named("dce", "Remove nodes and constants whose results are never used")
            .statistic("nodes-removed", "Pure nodes whose results reach no output")
            .statistic("constants-removed", "Constants nothing reads").build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        Set<Value> live = Collections.newSetFromMap(new IdentityHashMap<>());
        live.addAll(g.outputs());
        List<Node> nodes = List.copyOf(g.nodes()); // a copy: positional access on the live list after each removal would renumber it
        boolean changed = false;
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            boolean needed = !n.op().has(Trait.PURE) || n.outputs().stream().anyMatch(live::contains);
            if (needed) {
                for (Value v : n.inputs()) if (v != null) live.add(v);
            } else {
                g.removeNode(n);
                ctx.stats().inc("nodes-removed");
                changed = true;
            }
        }
        int c = g.removeUnusedConstants();
        if (c > 0) { ctx.stats().add("constants-removed", c); changed = true; }
        return changed;
    }
}

package org.tessel.passes.layout;

import java.util.ArrayList;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;
import org.tessel.passes.GraphProperty;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;

/**
 * Pass that removes redundant reformats: one whose input already has the target layout, and the
 * second of a back-to-back pair that returns to the original layout (its users read the original).
 */
public final class CancelReformats implements Pass {
    private static final PassInfo INFO = PassInfo.named("cancel-reformats", "Remove reformats that undo one another or change nothing")
            .statistic("reformats-removed", "Reformats removed")
            .requires(GraphProperty.LAYOUTS_ASSIGNED).build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        boolean changed = false;
        for (Node n : new ArrayList<>(g.nodes())) {
            if (!n.opName().equals(TesselOps.REFORMAT) || !g.contains(n)) continue;
            Value in = n.input(0), out = n.output();
            Value replacement = null;
            if (LayoutAssigner.layoutOf(in) == LayoutAssigner.layoutOf(out)) replacement = in;
            else if (in.producer() != null && in.producer().opName().equals(TesselOps.REFORMAT)
                    && LayoutAssigner.layoutOf(in.producer().input(0)) == LayoutAssigner.layoutOf(out)) replacement = in.producer().input(0);
            if (replacement == null || g.outputs().contains(out) && (replacement.isInput() || g.outputs().contains(replacement))) continue;
            boolean wasOutput = g.outputs().contains(out);
            String name = out.name();
            g.replaceAllUses(out, replacement);
            g.removeNode(n);
            if (wasOutput && g.value(name) == null) g.renameValue(replacement, name);
            ctx.stats().inc("reformats-removed");
            changed = true;
        }
        return changed;
    }
}

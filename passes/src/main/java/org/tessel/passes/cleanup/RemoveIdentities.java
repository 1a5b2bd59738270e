package org.tessel.passes.cleanup;

import java.util.ArrayList;
import org.tessel.api.Trait;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;
import org.tessel.passes.rules.Patterns;

/**
 * Pass that removes ops which return their input at inference (Identity, Dropout), when their
 * other outputs (Dropout's mask) are unused and removing them keeps every graph output a distinct
 * value.
 */
public final class RemoveIdentities implements Pass {
    private static final PassInfo INFO = PassInfo.named("remove-identities", "Remove Identity and inference-time Dropout")
            .statistic("identities-removed", "Identity/Dropout nodes removed").build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        boolean changed = false;
        for (Node n : new ArrayList<>(g.nodes())) {
            if (!n.op().has(Trait.IDENTITY_AT_INFERENCE) || n.input(0) == null) continue;
            boolean extraUsed = false;
            for (int i = 1; i < n.outputs().size(); i++) extraUsed |= !Patterns.unused(g, n.output(i));
            if (extraUsed) continue;
            Value in = n.input(0), out = n.output();
            if (!in.type().sameLogicalType(out.type())) continue;
            boolean outIsGraphOutput = g.outputs().contains(out);
            // a graph output must stay a node result with its own name, unless the input is free to take it
            if (outIsGraphOutput && (in.isInput() || g.outputs().contains(in) || in.isConstant())) continue;
            g.replaceAllUses(out, in);
            g.removeNode(n);
            if (outIsGraphOutput && g.value(out.name()) == null) g.renameValue(in, out.name());
            ctx.stats().inc("identities-removed");
            changed = true;
        }
        return changed;
    }
}

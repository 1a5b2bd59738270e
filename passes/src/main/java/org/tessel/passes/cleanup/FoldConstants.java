package org.tessel.passes.cleanup;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.Tensor;
import org.tessel.api.Trait;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;

/**
 * Pass that evaluates pure nodes whose inputs are all constants with the reference interpreter and
 * replaces them by constants. Results larger than max-elements stay computed (folding an Expand
 * of a scalar into a huge weight would only cost memory).
 */
public final class FoldConstants implements Pass {
    static final PassOption MAX = new PassOption("max-elements", "16777216", "Do not fold results with more elements than this");
    private static final PassInfo INFO = PassInfo.named("fold-constants", "Evaluate nodes whose inputs are all constants")
            .statistic("nodes-folded", "Nodes replaced by their constant results").options(MAX).build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        long max = ctx.intOption(MAX);
        ReferenceInterpreter interp = new ReferenceInterpreter();
        boolean changed = false;
        for (Node n : new ArrayList<>(g.nodes())) {
            if (!n.op().has(Trait.PURE) || n.body() != null) continue;
            boolean allConst = true;
            for (Value v : n.inputs()) if (v != null && !v.isConstant()) { allConst = false; break; }
            if (!allConst) continue;
            long elems = 0;
            for (Value o : n.outputs()) elems += o.type().numElements();
            if (elems > max) continue;
            List<Tensor> ins = new ArrayList<>();
            for (Value v : n.inputs()) ins.add(v == null ? null : v.constantValue());
            List<Tensor> outs = interp.evaluate(n, ins);
            List<Value> consts = new ArrayList<>();
            for (int i = 0; i < outs.size(); i++) consts.add(g.addConstant(n.output(i).name() + "_folded", outs.get(i)));
            for (int i = 0; i < outs.size(); i++) g.replaceAllUses(n.output(i), consts.get(i));
            String[] names = n.outputs().stream().map(Value::name).toArray(String[]::new);
            // a graph output keeps its name: the constant takes it once the node is gone
            boolean[] wasOut = new boolean[names.length];
            for (int i = 0; i < names.length; i++) wasOut[i] = g.outputs().contains(consts.get(i));
            g.removeNode(n);
            for (int i = 0; i < names.length; i++) if (wasOut[i] && g.value(names[i]) == null) g.renameValue(consts.get(i), names[i]);
            ctx.stats().inc("nodes-folded");
            changed = true;
        }
        if (changed) g.removeUnusedConstants();
        return changed;
    }
}

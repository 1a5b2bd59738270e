package org.tessel.passes.canonical;

import java.util.ArrayList;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;
import org.tessel.passes.cleanup.FoldConstants;

/**
 * Pass that replaces Shape(x) by a constant (shapes are static) and then folds the small
 * integer arithmetic that consumed it (Gather, Concat, Unsqueeze...), so Reshape targets become
 * plain constants.
 */
public final class SimplifyShapes implements Pass {
    private static final PassInfo INFO = PassInfo.named("simplify-shapes", "Turn Shape ops into constants and fold the shape arithmetic behind them")
            .statistic("shapes-made-constant", "Shape nodes replaced by constants")
            .statistic("nodes-folded", "Shape-arithmetic nodes folded after that").build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        boolean changed = false;
        for (Node n : new ArrayList<>(g.nodes())) {
            if (!n.opName().equals("Shape")) continue;
            Shape s = n.input(0).type().shape();
            int rank = s.rank();
            long start = n.attrs().getInt("start", 0), end = n.attrs().getInt("end", rank);
            if (start < 0) start += rank;
            if (end < 0) end += rank;
            start = Math.max(0, Math.min(rank, start));
            end = Math.max(start, Math.min(rank, end));
            long[] dims = new long[(int) (end - start)];
            for (int i = 0; i < dims.length; i++) dims[i] = s.dim((int) start + i);
            Value c = g.addConstant(n.output().name() + "_static", Tensor.ofLongs(DType.I64, Shape.of(dims.length), dims));
            boolean out = g.outputs().contains(n.output());
            String name = n.output().name();
            g.replaceAllUses(n.output(), c);
            g.removeNode(n);
            if (out && g.value(name) == null) g.renameValue(c, name);
            ctx.stats().inc("shapes-made-constant");
            changed = true;
        }
        if (changed) {
            PassContext fold = new PassContext(ctx.registry(), java.util.Map.of("max-elements", "4096"), ctx.stats());
            new FoldConstants().run(g, fold);
        }
        return changed;
    }
}

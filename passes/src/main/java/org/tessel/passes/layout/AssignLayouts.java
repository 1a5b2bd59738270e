package org.tessel.passes.layout;

import java.util.List;
import org.tessel.api.Layout;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.passes.GraphProperty;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassException;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;
import org.tessel.passes.rules.Rewriter;

/**
 * Pass that assigns layouts from a policy: {@code nchw}, {@code nhwc}, or {@code auto}: one layout
 * for the whole graph, channels-last when most convolution work (by MACs) is in convs tensor
 * cores handle well (group 1, channels multiples of 8), since per-op flips would cost a reformat
 * at every boundary. Per-node choices that weigh reformat costs are the search's job; it gives
 * them through {@link LayoutAssigner}.
 */
public final class AssignLayouts implements Pass {
    static final PassOption POLICY = new PassOption("policy", "auto", "nchw, nhwc, or auto (NHWC for tensor-core-friendly convs)");
    private static final PassInfo INFO = PassInfo.named("assign-layouts", "Choose NCHW/NHWC per op and insert reformats at boundaries")
            .statistic("reformats-inserted", "Reformat nodes inserted at layout boundaries")
            .options(POLICY).establishes(GraphProperty.LAYOUTS_ASSIGNED)
            .invalidates(GraphProperty.MEMORY_PLANNED, GraphProperty.STREAMS_ASSIGNED, GraphProperty.SCHEDULE_FIXED).notIdempotent().build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        String policy = ctx.option(POLICY);
        LayoutAssigner a = switch (policy) {
            case "nchw" -> new LayoutAssigner(n -> Layout.NCHW);
            case "nhwc" -> new LayoutAssigner(n -> Layout.NHWC);
            case "auto" -> { Layout l = auto(g); yield new LayoutAssigner(n -> l); }
            default -> throw new PassException("assign-layouts: policy must be nchw, nhwc or auto, got '" + policy + "'");
        };
        int n = a.assign(g, new Rewriter(g, ctx.registry(), ctx.stats()));
        ctx.stats().add("reformats-inserted", n);
        return true;
    }

    /** NHWC when tensor-core-friendly convolutions carry most of the graph's convolution MACs. */
    public static Layout auto(Graph g) {
        long friendly = 0, total = 0;
        for (Node n : g.nodes()) {
            List<Node> convs = n.body() != null ? n.body().nodes() : List.of(n);
            for (Node c : convs) {
                if (!c.opName().equals("Conv")) continue;
                int cin = c.input(0).type().shape().dim(1), cout = c.output().type().shape().dim(1);
                long macs = c.output().type().numElements() * c.input(1).type().numElements() / Math.max(1, cout);
                total += macs;
                if (cin % 8 == 0 && cout % 8 == 0 && c.attrs().getInt("group", 1) == 1) friendly += macs;
            }
        }
        return total > 0 && friendly * 2 >= total ? Layout.NHWC : Layout.NCHW;
    }
}

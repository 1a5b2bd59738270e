package org.tessel.passes.layout;

import org.tessel.api.Layout;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.GraphProperty;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassException;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;
import org.tessel.passes.rules.Rewriter;

/**
 * Pass that assigns layouts from a policy: {@code nchw}, {@code nhwc}, or {@code auto} (channels
 * last where tensor cores want it: a Conv whose input and output channels are multiples of 8;
 * channels first elsewhere). The search gives per-node decisions through {@link LayoutAssigner}.
 */
public final class AssignLayouts implements Pass {
    static final PassOption POLICY = new PassOption("policy", "auto", "nchw, nhwc, or auto (NHWC for tensor-core-friendly convs)");
    private static final PassInfo INFO = PassInfo.named("assign-layouts", "Choose NCHW/NHWC per op and insert reformats at boundaries")
            .options(POLICY).establishes(GraphProperty.LAYOUTS_ASSIGNED)
            .invalidates(GraphProperty.MEMORY_PLANNED, GraphProperty.STREAMS_ASSIGNED, GraphProperty.SCHEDULE_FIXED).notIdempotent().build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        String policy = ctx.option(POLICY);
        LayoutAssigner a = switch (policy) {
            case "nchw" -> new LayoutAssigner(n -> Layout.NCHW);
            case "nhwc" -> new LayoutAssigner(n -> Layout.NHWC);
            case "auto" -> new LayoutAssigner(AssignLayouts::auto);
            default -> throw new PassException("assign-layouts: policy must be nchw, nhwc or auto, got '" + policy + "'");
        };
        int n = a.assign(g, new Rewriter(g, ctx.registry(), ctx.stats()));
        ctx.stats().add("reformats-inserted", n);
        return true;
    }

    static Layout auto(Node n) {
        Node conv = n;
        if (n.body() != null) conv = n.body().nodes().stream().filter(x -> x.opName().equals("Conv")).findFirst().orElse(null);
        if (conv == null || !conv.opName().equals("Conv")) return Layout.NCHW;
        Value x = conv.input(0);
        int cin = x.type().shape().dim(1), cout = conv.output().type().shape().dim(1);
        long group = conv.attrs().getInt("group", 1);
        return cin % 8 == 0 && cout % 8 == 0 && group == 1 ? Layout.NHWC : Layout.NCHW;
    }
}

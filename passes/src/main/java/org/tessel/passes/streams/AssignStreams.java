package org.tessel.passes.streams;

import org.tessel.ir.Graph;
import org.tessel.passes.GraphProperty;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;

/** Pass that assigns nodes to up to k streams and reports streams used and events needed. */
public final class AssignStreams implements Pass {
    static final PassOption STREAMS = new PassOption("streams", "4", "Most streams to use");
    private static final PassInfo INFO = PassInfo.named("assign-streams", "Put independent branches on separate streams, with events between them")
            .statistic("streams-used", "Streams that received work")
            .statistic("events", "Cross-stream events needed")
            .options(STREAMS).establishes(GraphProperty.STREAMS_ASSIGNED, GraphProperty.SCHEDULE_FIXED).build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        StreamAssignment a = new StreamAssigner(ctx.intOption(STREAMS)).assign(g);
        ctx.stats().add("streams-used", a.streamsUsed());
        ctx.stats().add("events", a.events().size());
        return false;
    }
}

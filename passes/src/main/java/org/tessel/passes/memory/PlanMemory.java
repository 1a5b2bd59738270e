package org.tessel.passes.memory;

import org.tessel.ir.Graph;
import org.tessel.passes.GraphProperty;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;

/**
 * Pass that plans activation memory for the current node order and reports the arena size and
 * the lower bound as statistics. It fixes the schedule: passes after it that reorder nodes must
 * declare they invalidate the plan.
 */
public final class PlanMemory implements Pass {
    static final PassOption ALIGN = new PassOption("alignment", "256", "Byte alignment of every buffer");
    static final PassOption IN_PLACE = new PassOption("in-place", "true", "Let elementwise ops and views reuse a dying input's buffer");
    private static final PassInfo INFO = PassInfo.named("plan-memory", "Plan activation memory in one arena (liveness, in-place reuse, greedy by size)")
            .statistic("arena-bytes", "Size of the planned arena")
            .statistic("lower-bound-bytes", "Largest total of buffers live at one step")
            .statistic("buffers", "Distinct buffers after in-place reuse")
            .statistic("in-place", "Results written over a dying input or viewing one")
            .options(ALIGN, IN_PLACE).establishes(GraphProperty.MEMORY_PLANNED, GraphProperty.SCHEDULE_FIXED).build();

    @Override public PassInfo info() { return INFO; }

    @Override public boolean run(Graph g, PassContext ctx) {
        MemoryPlan p = new LivenessMemoryPlanner(ctx.intOption(ALIGN), ctx.boolOption(IN_PLACE)).plan(g);
        ctx.stats().add("arena-bytes", p.arenaBytes());
        ctx.stats().add("lower-bound-bytes", p.lowerBoundBytes());
        ctx.stats().add("buffers", p.buffers());
        ctx.stats().add("in-place", p.inPlaceReuses());
        return false;
    }
}

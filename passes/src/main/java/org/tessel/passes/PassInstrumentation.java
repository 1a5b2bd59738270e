package org.tessel.passes;

import org.tessel.ir.Graph;

/** Hooks around every pass the manager runs: timing, IR dumps, tracing (TVM's pass instruments). */
public interface PassInstrumentation {
    default void beforePass(PassInfo pass, Graph graph) {}

    default void afterPass(PassInfo pass, Graph graph, PassManager.PassRun run) {}
}

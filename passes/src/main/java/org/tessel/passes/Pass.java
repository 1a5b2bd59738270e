package org.tessel.passes;

import org.tessel.ir.Graph;

/**
 * Pass that transforms a graph in place. Implementations are stateless (options arrive through
 * the context), declare their contract in {@link #info()}, and report whether they changed
 * anything so fixpoint groups know when to stop.
 */
public interface Pass {
    PassInfo info();

    /** Runs the pass; returns true when the graph changed. */
    boolean run(Graph graph, PassContext ctx);
}

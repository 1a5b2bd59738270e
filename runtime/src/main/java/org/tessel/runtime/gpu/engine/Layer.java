package org.tessel.runtime.gpu.engine;

import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.engine.LayerPlan;

/**
 * One step of a GPU engine: a node's kernels bound to device memory at build time, so running it is
 * only enqueuing. {@link #plan()} says which tactic runs it (the catalogue id with its variant).
 */
public interface Layer extends AutoCloseable {
    LayerPlan plan();

    void enqueue(CudaStream stream);

    @Override default void close() {}
}

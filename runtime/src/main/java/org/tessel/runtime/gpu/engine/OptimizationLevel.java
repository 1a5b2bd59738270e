package org.tessel.runtime.gpu.engine;

/**
 * How much the builder measures when it picks a library algorithm for a convolution or GEMM
 * layer ({@link Autotuner}). Every level ranks the candidates by the cost model first.
 */
public enum OptimizationLevel {
    /** The cost model's best candidate, nothing timed (one untimed trial call checks it runs). */
    COST_MODEL,
    /** Time the cost model's top k candidates and keep the fastest. */
    TOP_K,
    /** Time every candidate and keep the fastest. */
    ALL
}

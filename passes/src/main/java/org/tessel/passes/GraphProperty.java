package org.tessel.passes;

/**
 * Facts about a graph that passes establish and rely on. The pass manager tracks them along a
 * pipeline to refuse illegal orders before anything runs (Graal's graph-state contract).
 */
public enum GraphProperty {
    /** BatchNormalization nodes have been folded into the preceding Conv/Gemm where possible. */
    BATCHNORM_FOLDED,
    /** Fusion has run: nodes may be fused nodes holding bodies. */
    FUSED,
    /** Every image tensor has a concrete layout (NCHW or NHWC) and reformats are explicit. */
    LAYOUTS_ASSIGNED,
    /** Node order is final: memory plans and stream assignments refer to it. */
    SCHEDULE_FIXED,
    /** Activation memory has been planned (offsets in one arena). */
    MEMORY_PLANNED,
    /** Nodes have been assigned to streams with the events between them. */
    STREAMS_ASSIGNED
}

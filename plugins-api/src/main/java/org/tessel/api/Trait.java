package org.tessel.api;

/** Properties of an op that passes and the search may rely on. */
public enum Trait {
    /** Output element i depends only on input elements i (after broadcasting). */
    ELEMENTWISE,
    /** No side effects: two nodes with equal op, attributes and inputs compute the same outputs. */
    PURE,
    /** The first two inputs may be swapped. */
    COMMUTATIVE,
    /** Only moves or reinterprets data (reshape, transpose, slice...). */
    DATA_MOVEMENT,
    /** Output equals its first input at inference (Identity, Dropout). */
    IDENTITY_AT_INFERENCE,
    /** Operates on image tensors with a channel dimension, so layout matters (Conv, pools, BN...). */
    LAYOUT_SENSITIVE,
    /** A fused node that holds a subgraph. */
    FUSED
}

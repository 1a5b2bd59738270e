package org.tessel.api.select;

import java.util.Objects;

/**
 * One node of the final plan and the algorithm it runs, as {@link AlgorithmSelector#reportAlgorithms}
 * is told it. The node is a node of the planned graph: a plain node, a fused group, or a reformat or
 * cast the plan's formats added. The algorithm's {@code predictedUs} is the plan's time for the node;
 * {@code measuredUs} is empty and {@code workspaceBytes} 0, as the plan records neither (the report
 * says what was chosen; the timing cache says what was measured).
 */
public record ChosenAlgorithm(NodeView node, Algorithm algorithm) {
    public ChosenAlgorithm {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(algorithm, "algorithm");
    }
}

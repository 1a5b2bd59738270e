package org.tessel.tactics.plan;

import java.util.Objects;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;

/**
 * What the plan says about one node of the planned graph: the tactic that runs it (a catalogue id,
 * plus an optional variant such as a cuDNN algorithm or a cuBLASLt heuristic index), the precision
 * it computes in, the layout of its image tensors ({@link Layout#ANY} when it has none), the stream
 * it runs on, and the predicted time of the node at that choice.
 *
 * @param node        the node's name in the planned graph (a fused group's node is named as in {@link FusedGroup#name()})
 * @param op          the node's op ({@code tessel.Fused} for a group), for reports and checks
 * @param tacticId    a {@link org.tessel.tactics.TacticCatalog} id
 * @param variant     the tactic's own sub-choice ("" when it has none), e.g. {@code implicit_precomp_gemm}, {@code heuristic_2}
 * @param predictedUs the cost model's (or the timing cache's) time for this node, microseconds; NaN when unpriced
 */
public record PlannedNode(String node, String op, String tacticId, String variant, Precision precision, Layout layout, int stream, double predictedUs) {
    public PlannedNode {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(op, "op");
        Objects.requireNonNull(tacticId, "tacticId");
        Objects.requireNonNull(precision, "precision");
        Objects.requireNonNull(layout, "layout");
        variant = variant == null ? "" : variant;
        if (stream < 0) throw new IllegalArgumentException("node '" + node + "': stream must be >= 0, got " + stream);
    }

    /** The tactic and its variant as one string, "id" or "id/variant" (what engine layer plans and timing caches print). */
    public String tactic() { return variant.isEmpty() ? tacticId : tacticId + "/" + variant; }

    public PlannedNode withVariant(String v) { return new PlannedNode(node, op, tacticId, v, precision, layout, stream, predictedUs); }

    public PlannedNode withStream(int s) { return new PlannedNode(node, op, tacticId, variant, precision, layout, s, predictedUs); }

    public PlannedNode withTactic(String id, String v) { return new PlannedNode(node, op, id, v, precision, layout, stream, predictedUs); }

    @Override public boolean equals(Object o) {
        // NaN predictions compare equal, so a plan read back from a file equals the one written
        return o instanceof PlannedNode p && node.equals(p.node) && op.equals(p.op) && tacticId.equals(p.tacticId) && variant.equals(p.variant)
                && precision == p.precision && layout == p.layout && stream == p.stream && Double.compare(predictedUs, p.predictedUs) == 0;
    }

    @Override public int hashCode() { return Objects.hash(node, op, tacticId, variant, precision.ordinal(), layout.ordinal(), stream, Double.hashCode(predictedUs)); }
}

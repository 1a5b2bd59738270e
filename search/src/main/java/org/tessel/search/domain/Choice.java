package org.tessel.search.domain;

import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.search.Format;

/**
 * One way to run one node: a tactic at a compute precision and layout, with the cost model's
 * estimate of it. {@code whyNot} is null for a supported choice; the search's value ranges hold
 * only supported ones, but an imported or user-pinned plan may name an unsupported one, and the
 * hard constraint {@code tacticSupportsChoice} then says why.
 *
 * <p>An <em>in-group</em> choice ({@link #inGroup(int, Format)}) is a format a node can take only as a
 * member of a fused group running at that format: no standalone tactic runs the node there, the
 * group's fused tactic does (a Reshape heading an attention group, the MatMul of a GEMM chain, a
 * Clip after a convolution). It costs nothing itself (the group's latency replaces its members')
 * and the hard rule {@link org.tessel.search.Rules#IN_GROUP_CHOICE_FUSED} makes it infeasible for a
 * node no fused group covers.
 *
 * @param node index of the node this choice is for
 * @param latencyPs predicted latency in picoseconds (integer, so incremental scores add exactly)
 * @param inGroup whether this is an in-group choice (its tactic id is {@link #IN_GROUP_TACTIC})
 * @param variant the tactic's variant this choice runs, the cheapest of those the tactic prices for the node
 *                ({@link org.tessel.tactics.Tactic#pricedVariants}); "" where it prices none (the builder picks)
 */
public record Choice(int node, String tacticId, Precision precision, Layout layout, long latencyPs,
                     double computeUs, double memoryUs, double launchUs, long workspaceBytes, String whyNot, boolean inGroup, String variant) {

    /** What an in-group choice names as its tactic: the fused group's tactic runs the node. */
    public static final String IN_GROUP_TACTIC = "(fused group)";

    public Choice {
        if (inGroup && !IN_GROUP_TACTIC.equals(tacticId)) throw new IllegalArgumentException("an in-group choice names no tactic of its own, got " + tacticId);
        if (variant == null) throw new IllegalArgumentException("a choice's variant is a name or \"\", not null");
        if (inGroup && !variant.isEmpty()) throw new IllegalArgumentException("an in-group choice names no variant, got " + variant);
    }

    /** A standalone choice: the tactic runs the node by itself. */
    public Choice(int node, String tacticId, Precision precision, Layout layout, long latencyPs,
                  double computeUs, double memoryUs, double launchUs, long workspaceBytes, String whyNot) {
        this(node, tacticId, precision, layout, latencyPs, computeUs, memoryUs, launchUs, workspaceBytes, whyNot, false, "");
    }

    /** This choice running variant {@code v} of its tactic. */
    public Choice withVariant(String v) {
        return new Choice(node, tacticId, precision, layout, latencyPs, computeUs, memoryUs, launchUs, workspaceBytes, whyNot, inGroup, v);
    }

    /** The in-group choice of node {@code node} at format {@code f}. */
    public static Choice inGroup(int node, Format f) {
        return new Choice(node, IN_GROUP_TACTIC, f.precision(), f.layout(), 0, 0, 0, 0, 0, null, true, "");
    }

    public Format format() { return new Format(precision, layout); }

    /** Stable across JVM runs (enum hash codes are not), so hash-ordered solver internals repeat under a seed. */
    @Override public int hashCode() {
        return java.util.Objects.hash(node, tacticId, precision.ordinal(), layout.ordinal(), latencyPs, workspaceBytes, whyNot, inGroup, variant);
    }

    public boolean supported() { return whyNot == null; }

    /** A supported choice a node can run by itself, outside any fused group. */
    public boolean standalone() { return whyNot == null && !inGroup; }

    public double latencyUs() { return latencyPs / 1e6; }

    @Override public String toString() {
        return inGroup ? "in fused group " + format() : tacticId + (variant.isEmpty() ? "" : "/" + variant) + " " + format() + String.format(java.util.Locale.ROOT, " %.3fus", latencyUs());
    }
}

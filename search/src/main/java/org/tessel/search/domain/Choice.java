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
 * @param node index of the node this choice is for
 * @param latencyPs predicted latency in picoseconds (integer, so incremental scores add exactly)
 */
public record Choice(int node, String tacticId, Precision precision, Layout layout, long latencyPs,
                     double computeUs, double memoryUs, double launchUs, long workspaceBytes, String whyNot) {

    public Format format() { return new Format(precision, layout); }

    /** Stable across JVM runs (enum hash codes are not), so hash-ordered solver internals repeat under a seed. */
    @Override public int hashCode() {
        return java.util.Objects.hash(node, tacticId, precision.ordinal(), layout.ordinal(), latencyPs, workspaceBytes, whyNot);
    }

    public boolean supported() { return whyNot == null; }

    public double latencyUs() { return latencyPs / 1e6; }

    @Override public String toString() {
        return tacticId + " " + format() + String.format(java.util.Locale.ROOT, " %.3fus", latencyUs());
    }
}

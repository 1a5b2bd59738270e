package org.tessel.search.domain;

import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.search.Format;

/** The fastest fused tactic for a fusion candidate at one format, priced on the group's work. */
public record FusedChoice(String tacticId, Precision precision, Layout layout, long latencyPs,
                          double computeUs, double memoryUs, double launchUs, long workspaceBytes) {
    public Format format() { return new Format(precision, layout); }

    /** Stable across JVM runs (enum hash codes are not). */
    @Override public int hashCode() { return java.util.Objects.hash(tacticId, precision.ordinal(), layout.ordinal(), latencyPs, workspaceBytes); }

    public double latencyUs() { return latencyPs / 1e6; }
}

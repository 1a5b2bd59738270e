package org.tessel.search.domain;

import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.search.Format;

/**
 * The fastest fused tactic for a fusion candidate at one format, priced on the group's work; {@code variant}: the
 * tactic's form the price is for, where it prices its forms apart ("" where it does not).
 */
public record FusedChoice(String tacticId, Precision precision, Layout layout, long latencyPs,
                          double computeUs, double memoryUs, double launchUs, long workspaceBytes, String variant) {
    public FusedChoice {
        java.util.Objects.requireNonNull(variant, "variant");
    }

    /** A choice without a variant. */
    public FusedChoice(String tacticId, Precision precision, Layout layout, long latencyPs, double computeUs, double memoryUs, double launchUs, long workspaceBytes) {
        this(tacticId, precision, layout, latencyPs, computeUs, memoryUs, launchUs, workspaceBytes, "");
    }

    /** The fused choice of a node choice, its variant kept. */
    public static FusedChoice of(Choice c) {
        return new FusedChoice(c.tacticId(), c.precision(), c.layout(), c.latencyPs(), c.computeUs(), c.memoryUs(), c.launchUs(), c.workspaceBytes(), c.variant());
    }

    public Format format() { return new Format(precision, layout); }

    /** Stable across JVM runs (enum hash codes are not). */
    @Override public int hashCode() { return java.util.Objects.hash(tacticId, precision.ordinal(), layout.ordinal(), latencyPs, workspaceBytes); }

    public double latencyUs() { return latencyPs / 1e6; }
}

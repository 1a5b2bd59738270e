package org.tessel.search.domain;

import ai.timefold.solver.core.api.domain.entity.PlanningEntity;
import ai.timefold.solver.core.api.domain.entity.PlanningPin;
import ai.timefold.solver.core.api.domain.lookup.PlanningId;
import ai.timefold.solver.core.api.domain.variable.PlanningVariable;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import org.tessel.api.Layout;
import org.tessel.search.Format;

/**
 * Whether one fusion candidate runs as a single fused kernel. When fused, its members take the
 * root's format, the fastest fused tactic at that format replaces their own costs, and the
 * edges inside the group are free.
 */
@PlanningEntity
public class FusionDecision {
    @PlanningId private Integer index;
    private String kind;
    private int[] members;
    private BitSet memberSet;
    private Map<Format, FusedChoice> fusedChoices;
    private boolean imageGroup;
    @PlanningPin private boolean pinned;

    @PlanningVariable(valueRangeProviderRefs = "fuseValues")
    private Boolean fused;

    public FusionDecision() {}

    /**
     * @param members node indices, root first
     * @param fusedChoices fastest fused tactic per root format; a format missing here has no fused tactic
     * @param imageGroup whether the fused node touches an image tensor (its choices are keyed by layout then)
     */
    public FusionDecision(int index, String kind, int[] members, Map<Format, FusedChoice> fusedChoices, boolean imageGroup) {
        this.index = index;
        this.kind = kind;
        this.members = members.clone();
        this.memberSet = new BitSet();
        for (int m : members) memberSet.set(m);
        this.fusedChoices = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(fusedChoices)); // ordered: Map.copyOf iterates in a per-JVM order
        this.imageGroup = imageGroup;
    }

    public int index() { return index; }

    /** Identity equality, but a hash stable across JVM runs (the node index), so the solver repeats under a seed. */
    @Override public int hashCode() { return index; }

    @Override public boolean equals(Object o) { return this == o; }
    public String kind() { return kind; }
    public int root() { return members[0]; }
    public int[] members() { return members.clone(); }
    public int size() { return members.length; }
    public List<Integer> memberList() { return java.util.Arrays.stream(members).boxed().toList(); }
    public boolean contains(int node) { return memberSet.get(node); }
    public boolean overlaps(FusionDecision o) { return memberSet.intersects(o.memberSet); }
    public Map<Format, FusedChoice> fusedChoices() { return fusedChoices; }

    /** The fused tactic at the root's format, or null when none supports it. */
    public FusedChoice fusedChoice(Format rootFormat) {
        Format key = new Format(rootFormat.precision(), imageGroup ? rootFormat.imageLayout() : Layout.ANY);
        return fusedChoices.get(key);
    }

    public Boolean getFused() { return fused; }
    public void setFused(Boolean f) { this.fused = f; }
    public boolean isFused() { return Boolean.TRUE.equals(fused); }
    public boolean isPinned() { return pinned; }
    public void setPinned(boolean p) { this.pinned = p; }

    /** This decision with fuse set, for fixtures. */
    public FusionDecision with(boolean f) { this.fused = f; return this; }

    @Override public String toString() { return kind + "#" + index + (isFused() ? "(fused)" : ""); }
}

package org.tessel.search.domain;

import ai.timefold.solver.core.api.domain.entity.PlanningEntity;
import ai.timefold.solver.core.api.domain.entity.PlanningPin;
import ai.timefold.solver.core.api.domain.lookup.PlanningId;
import ai.timefold.solver.core.api.domain.valuerange.ValueRangeProvider;
import ai.timefold.solver.core.api.domain.variable.PlanningVariable;
import java.util.List;
import org.tessel.search.Format;

/**
 * The decision for one node of the graph: which {@link Choice} (tactic, precision, layout) runs it.
 * The value range is the node's own supported choices; a pinned decision keeps its choice.
 */
@PlanningEntity
public class NodeDecision {
    @PlanningId private Integer index;
    private String name;
    private String op;
    private List<Choice> choices;
    /** Bytes of graph inputs alive at this node's step (fixed: they never change format). */
    private long stepBaseBytes;
    @PlanningPin private boolean pinned;
    /** Accuracy units this node adds per precision (by ordinal), or null without an accuracy budget. */
    private long[] errorUnits;

    @PlanningVariable(valueRangeProviderRefs = "choices")
    private Choice choice;

    public NodeDecision() {}

    public NodeDecision(int index, String name, String op, List<Choice> choices, long stepBaseBytes) {
        this(index, name, op, choices, stepBaseBytes, null);
    }

    /** @param errorUnits accuracy units per precision ordinal (an accuracy budget's), or null */
    public NodeDecision(int index, String name, String op, List<Choice> choices, long stepBaseBytes, long[] errorUnits) {
        this.errorUnits = errorUnits == null ? null : errorUnits.clone();
        this.index = index;
        this.name = name;
        this.op = op;
        this.choices = List.copyOf(choices);
        this.stepBaseBytes = stepBaseBytes;
    }

    @ValueRangeProvider(id = "choices")
    public List<Choice> getChoices() { return choices; }

    public int index() { return index; }

    /** Identity equality, but a hash stable across JVM runs (the node index), so the solver repeats under a seed. */
    @Override public int hashCode() { return index; }

    @Override public boolean equals(Object o) { return this == o; }
    public String name() { return name; }
    public String op() { return op; }
    public long stepBaseBytes() { return stepBaseBytes; }
    /** Accuracy units the chosen precision adds (0 without an accuracy budget). */
    public long errorUnits() { return errorUnits == null ? 0 : errorUnits[choice.precision().ordinal()]; }
    public Choice getChoice() { return choice; }
    public void setChoice(Choice c) { this.choice = c; }
    public Choice choice() { return choice; }
    public Format format() { return choice.format(); }
    public boolean isPinned() { return pinned; }
    public void setPinned(boolean p) { this.pinned = p; }

    /** This decision with a choice set, for fixtures. */
    public NodeDecision with(Choice c) { this.choice = c; return this; }

    @Override public String toString() { return name + "=" + choice; }
}

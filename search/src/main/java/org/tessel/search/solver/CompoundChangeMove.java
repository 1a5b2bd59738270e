package org.tessel.search.solver;

import ai.timefold.solver.core.api.score.director.ScoreDirector;
import ai.timefold.solver.core.impl.heuristic.move.AbstractMove;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.EnginePlan;
import org.tessel.search.domain.FusionDecision;
import org.tessel.search.domain.NodeDecision;

/**
 * A move that changes several decisions at once: the choices of a set of nodes and the fuse
 * flags of a set of candidates. Single-variable moves cannot fuse a group whose members disagree
 * with the root, nor move a whole chain to another precision without paying casts on the way;
 * these moves can. Timefold records the undo itself.
 */
public final class CompoundChangeMove extends AbstractMove<EnginePlan> {
    private final String kind;
    private final List<NodeDecision> nodes;
    private final List<Choice> choices;
    private final List<FusionDecision> fusions;
    private final List<Boolean> fused;

    public CompoundChangeMove(String kind, List<NodeDecision> nodes, List<Choice> choices, List<FusionDecision> fusions, List<Boolean> fused) {
        if (nodes.size() != choices.size() || fusions.size() != fused.size()) throw new IllegalArgumentException("mismatched move lists");
        this.kind = kind;
        this.nodes = List.copyOf(nodes);
        this.choices = List.copyOf(choices);
        this.fusions = List.copyOf(fusions);
        this.fused = List.copyOf(fused);
    }

    @Override public boolean isMoveDoable(ScoreDirector<EnginePlan> sd) {
        if (anyPinned()) return false;
        for (int i = 0; i < nodes.size(); i++) if (!Objects.equals(nodes.get(i).choice(), choices.get(i))) return true;
        for (int i = 0; i < fusions.size(); i++) if (!Objects.equals(fusions.get(i).getFused(), fused.get(i))) return true;
        return false;
    }

    private boolean anyPinned() {
        for (NodeDecision d : nodes) if (d.isPinned()) return true;
        for (FusionDecision f : fusions) if (f.isPinned()) return true;
        return false;
    }

    @Override protected void doMoveOnGenuineVariables(ScoreDirector<EnginePlan> sd) {
        for (int i = 0; i < nodes.size(); i++) {
            NodeDecision d = nodes.get(i);
            if (Objects.equals(d.choice(), choices.get(i))) continue;
            sd.beforeVariableChanged(d, "choice");
            d.setChoice(choices.get(i));
            sd.afterVariableChanged(d, "choice");
        }
        for (int i = 0; i < fusions.size(); i++) {
            FusionDecision f = fusions.get(i);
            if (Objects.equals(f.getFused(), fused.get(i))) continue;
            sd.beforeVariableChanged(f, "fused");
            f.setFused(fused.get(i));
            sd.afterVariableChanged(f, "fused");
        }
    }

    @Override public CompoundChangeMove rebase(ScoreDirector<EnginePlan> sd) {
        List<NodeDecision> ns = new ArrayList<>();
        for (NodeDecision d : nodes) ns.add(sd.lookUpWorkingObject(d));
        List<FusionDecision> fs = new ArrayList<>();
        for (FusionDecision f : fusions) fs.add(sd.lookUpWorkingObject(f));
        return new CompoundChangeMove(kind, ns, choices, fs, fused);
    }

    @Override public Collection<?> getPlanningEntities() {
        LinkedHashSet<Object> s = new LinkedHashSet<>(nodes);
        s.addAll(fusions);
        return s;
    }

    @Override public Collection<?> getPlanningValues() {
        LinkedHashSet<Object> s = new LinkedHashSet<>(choices);
        s.addAll(fused);
        return s;
    }

    @Override public String getSimpleMoveTypeDescription() { return "CompoundChangeMove(" + kind + ")"; }

    @Override public boolean equals(Object o) {
        return o instanceof CompoundChangeMove m && kind.equals(m.kind) && nodes.equals(m.nodes) && choices.equals(m.choices)
                && fusions.equals(m.fusions) && fused.equals(m.fused);
    }

    @Override public int hashCode() { return Objects.hash(kind, nodes, choices, fusions, fused); }

    @Override public String toString() { return kind + " " + nodes + "<-" + choices + " " + fusions + "<-" + fused; }
}

package org.tessel.search;

import java.util.ArrayList;
import java.util.List;
import org.tessel.ir.Graph;
import org.tessel.ir.ops.TesselOps;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.FusedChoice;
import org.tessel.tactics.data.DataMovementTactics;
import org.tessel.tactics.gemm.GemmTactics;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlanException;
import org.tessel.tactics.plan.PlannedMerge;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Turns a search result into the {@link EnginePlan} builders take: the fused candidates become
 * groups named as the fused nodes will be, every other node keeps its chosen tactic, precision and
 * layout, a group takes its fused tactic at its root's format; a chosen horizontal merge becomes the
 * plan's merge, its wide chain (a group when it has a tail or a prologue: the merged input's norm) and its Split at the first root's format (a Split run as
 * views makes the wide GEMM its batched variant). {@link #complete} then applies the
 * decisions to the prepared graph, which adds the reformat nodes and the casts the formats imply,
 * so what {@code tessel search} prints is exactly what {@code tessel build} builds.
 */
public final class EnginePlans {
    private EnginePlans() {}

    /** The decisions of {@code plan} for the nodes of the prepared graph, groups fused. */
    public static EnginePlan decisions(SearchProblem p, Plan plan) {
        Assignment a = plan.assignment();
        int n = p.size();
        int[] groupOf = new int[n];
        java.util.Arrays.fill(groupOf, -1);
        List<FusedGroup> groups = new ArrayList<>();
        List<PlannedMerge> merges = new ArrayList<>();
        List<SearchProblem.Candidate> fused = new ArrayList<>();
        for (SearchProblem.Candidate c : p.candidates()) {
            if (!a.isFused(c.index())) continue;
            for (int m : c.members()) {
                if (groupOf[m] >= 0) throw new PlanException("the " + plan.strategy() + " plan fuses node '" + p.node(m).name() + "' into two groups");
                groupOf[m] = fused.size();
            }
            fused.add(c);
            if (c.isMerge()) {
                SearchProblem.Merge m = c.merge();
                merges.add(new PlannedMerge(m.kind(), m.chains(), m.merged(), m.split()));
                groups.add(m.wideKind() == null ? null : FusedGroup.of(m.wideKind(), m.wideGroup()));
                continue;
            }
            List<String> names = new ArrayList<>();
            for (int m : c.members()) names.add(p.node(m).name());
            groups.add(FusedGroup.of(c.kind(), names));
        }
        int[] last = new int[fused.size()];
        for (int g = 0; g < fused.size(); g++) for (int m : fused.get(g).members()) last[g] = Math.max(last[g], m);
        List<PlannedNode> nodes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int g = groupOf[i];
            if (g < 0) {
                Choice c = a.choice(i);
                if (c.inGroup())
                    throw new PlanException("the " + plan.strategy() + " plan runs node '" + p.node(i).name() + "' (" + p.node(i).op() + ") at " + c.format()
                            + ", where only a fused group's tactic runs it, but fuses no group holding it");
                nodes.add(new PlannedNode(p.node(i).name(), p.node(i).op(), c.tacticId(), c.variant(), c.precision(), c.layout(), 0, c.latencyUs()));
            } else if (last[g] == i) {
                SearchProblem.Candidate c = fused.get(g);
                Format root = a.format(c.root());
                if (c.isMerge()) {
                    SearchProblem.Merge m = c.merge();
                    SearchProblem.MergeParts parts = m.parts().get(c.key(root));
                    if (parts == null) throw new PlanException("merge '" + m.merged().getFirst() + "' has no kernels at its first root's format " + root);
                    FusedChoice w = parts.wide(), sp = parts.split();
                    String wideName = groups.get(g) != null ? groups.get(g).name() : m.merged().getFirst();
                    // a Split run as views after cuBLASLt needs the wide GEMM's batched form, which writes the parts one after another;
                    // any other wide kernel is viewed only where its output is one row (the parts already lie so)
                    String variant = sp.tacticId().equals(DataMovementTactics.SPLIT_VIEW.id()) && GemmTactics.runsBatched(w.tacticId())
                            ? GemmTactics.batchedVariant(m.chains().size()) : w.variant();
                    nodes.add(new PlannedNode(wideName, groups.get(g) != null ? TesselOps.FUSED : m.wideOp(), w.tacticId(), variant, w.precision(), w.layout(), 0, w.latencyUs()));
                    nodes.add(new PlannedNode(m.split(), "Split", sp.tacticId(), "", sp.precision(), sp.layout(), 0, sp.latencyUs()));
                    continue;
                }
                FusedChoice fc = plan.assignment().fusedChoice(c, root);
                if (fc == null) throw new PlanException("fused group '" + groups.get(g).name() + "' (" + c.kind() + ") has no fused tactic at its root's format " + root);
                nodes.add(new PlannedNode(groups.get(g).name(), TesselOps.FUSED, fc.tacticId(), fc.variant(), fc.precision(), fc.layout(), 0, fc.latencyUs()));
            }
        }
        return new EnginePlan(p.name(), plan.strategy(), plan.target(), plan.seed(), merges, groups.stream().filter(java.util.Objects::nonNull).toList(),
                nodes, List.of(), plan.predictedUs(), plan.boundUs());
    }

    /** The complete plan for the planned graph: {@link #decisions} applied to the problem's prepared graph. */
    public static PlanApplier.Applied complete(SearchProblem p, Plan plan) {
        Graph prepared = p.prepared();
        if (prepared == null) throw new IllegalArgumentException("problem '" + p.name() + "' was not built from a graph, so its plan cannot be applied");
        return PlanApplier.apply(prepared, decisions(p, plan));
    }
}

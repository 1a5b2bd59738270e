package org.tessel.tactics.plan;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;
import org.tessel.passes.GraphProperty;
import org.tessel.passes.PassManager;
import org.tessel.passes.PassStatistics;
import org.tessel.passes.fusion.FusionCandidate;
import org.tessel.passes.fusion.FusionGroups;
import org.tessel.passes.fusion.SiblingMerge;
import org.tessel.passes.fusion.SiblingMerges;
import org.tessel.passes.layout.LayoutAssigner;
import org.tessel.passes.rules.Rewriter;

/**
 * Applies a plan's decisions to a prepared graph (clean-up and folds done, nothing fused): makes the
 * plan's horizontal merges (each chain list checked to be a merge {@link SiblingMerges} can make, the
 * nodes it makes named as the plan says), fuses exactly the plan's groups, gives every layout-sensitive node the plan's layout (reformat nodes
 * appear where neighbours disagree), cancels reformat pairs and plans memory, as the standard
 * pipeline does after its own fusion and layout passes. The result is the planned graph and the
 * complete plan for it: one entry per node in schedule order (reformats included, with their
 * tactic) and the casts the per-node precisions imply on edges. Builders take both; nothing is
 * decided here.
 */
public final class PlanApplier {
    private PlanApplier() {}

    /** The tactic every layout conversion node runs. */
    public static final String REFORMAT_TACTIC = "tessel.reformat.nchw_nhwc";

    /** What the standard pipeline runs after fusing and laying out. */
    static final String AFTER_LAYOUT = "cancel-reformats,dce,plan-memory";

    /** The planned graph and the complete plan for it. */
    public record Applied(Graph graph, EnginePlan plan) {}

    /** Applies {@code plan} to a copy of {@code prepared} (which is left as it is). */
    public static Applied apply(Graph prepared, EnginePlan plan) {
        Graph g = prepared.copy();
        Rewriter rw = new Rewriter(g, OpRegistry.global(), new PassStatistics());
        Map<String, Node> byName = new HashMap<>();
        for (Node n : g.nodes()) byName.put(n.name(), n);
        for (PlannedMerge merge : plan.merges()) merge(rw, merge, byName);
        for (FusedGroup group : plan.groups()) {
            List<Node> members = new ArrayList<>();
            for (String m : group.members()) {
                Node n = byName.get(m);
                if (n == null) throw new PlanException("fused group '" + group.name() + "': graph '" + g.name() + "' has no node '" + m + "'");
                members.add(n);
            }
            if (!FusionGroups.isConvex(g, members))
                throw new PlanException("fused group '" + group.name() + "' (" + group.kind() + ") is not convex: a path leaves it and comes back, so fusing it would make a cycle");
            Node fused = FusionGroups.fuse(rw, new FusionCandidate(group.kind(), members));
            if (!fused.name().equals(group.name()))
                throw new PlanException("fused group '" + group.name() + "': the fused node is named '" + fused.name() + "' (a node of that name already exists)");
            for (String m : group.members()) byName.remove(m);
            byName.put(fused.name(), fused);
        }
        g.sortTopologically();
        Map<String, PlannedNode> decided = plan.byName();
        for (Node n : g.nodes())
            if (!decided.containsKey(n.name()))
                throw new PlanException("plan for '" + plan.model() + "' has no entry for " + n.describe() + (n.opName().equals(TesselOps.FUSED) ? "" : " (is it fused in the plan's groups?)"));
        new LayoutAssigner(n -> decided.get(n.name()).layout(), true).assign(g, rw);
        // the plan fused and laid out the graph itself, standing in for the fuse and assign-layouts passes
        new PassManager().assuming(java.util.EnumSet.of(GraphProperty.BATCHNORM_FOLDED, GraphProperty.FUSED, GraphProperty.LAYOUTS_ASSIGNED)).run(g, AFTER_LAYOUT);
        return new Applied(g, complete(g, plan));
    }

    /** Makes one planned merge on the graph, checking it is a merge and names what it makes as the plan does. */
    static void merge(Rewriter rw, PlannedMerge merge, Map<String, Node> byName) {
        Graph g = rw.graph();
        List<List<Node>> chains = new ArrayList<>();
        for (List<String> c : merge.chains()) {
            List<Node> chain = new ArrayList<>();
            for (String m : c) {
                Node n = byName.get(m);
                if (n == null) throw new PlanException("merge '" + merge.name() + "': graph '" + g.name() + "' has no node '" + m + "'");
                chain.add(n);
            }
            chains.add(chain);
        }
        SiblingMerge m;
        try {
            m = SiblingMerges.of(g, chains);
        } catch (IllegalArgumentException e) {
            throw new PlanException("merge '" + merge.name() + "' cannot be made: " + e.getMessage());
        }
        if (!m.kind().equals(merge.kind()))
            throw new PlanException("merge '" + merge.name() + "' says kind " + merge.kind() + ", its chains make a " + m.kind() + " merge");
        SiblingMerges.Merged made = SiblingMerges.apply(rw, m);
        List<String> names = new ArrayList<>(made.wide().stream().map(Node::name).toList());
        names.add(made.split().name());
        if (!names.equals(merge.made()))
            throw new PlanException("merge '" + merge.name() + "' made nodes " + names + ", the plan names them " + merge.made() + " (a node of such a name already exists?)");
        for (String n : merge.members()) byName.remove(n);
        for (Node n : made.wide()) byName.put(n.name(), n);
        byName.put(made.split().name(), made.split());
    }

    /** The plan for the planned graph: every node in schedule order, layouts as laid out, casts on edges. */
    static EnginePlan complete(Graph g, EnginePlan plan) {
        Map<String, PlannedNode> decided = plan.byName();
        List<PlannedNode> nodes = new ArrayList<>();
        Map<Node, PlannedNode> of = new IdentityHashMap<>();
        for (Node n : g.nodes()) {
            PlannedNode d = decided.get(n.name());
            PlannedNode p;
            if (d != null) {
                p = new PlannedNode(d.node(), n.opName(), d.tacticId(), d.variant(), d.precision(), layoutOf(n), d.stream(), d.predictedUs());
            } else if (n.opName().equals(TesselOps.REFORMAT)) {
                // a reformat stores what its producer stores; it runs where its producer runs
                PlannedNode from = n.input(0).producer() == null ? null : of.get(n.input(0).producer());
                Precision prec = from != null ? from.precision() : boundaryPrecision(n.input(0).type().dtype());
                p = new PlannedNode(n.name(), n.opName(), REFORMAT_TACTIC, "", prec, layoutOf(n), from == null ? 0 : from.stream(), Double.NaN);
            } else {
                throw new PlanException("applying the plan for '" + plan.model() + "' made " + n.describe() + ", which the plan does not cover");
            }
            nodes.add(p);
            of.put(n, p);
        }
        return new EnginePlan(plan.model(), plan.strategy(), plan.target(), plan.seed(), plan.merges(), plan.groups(), nodes, conversions(g, of, plan), plan.predictedUs(), plan.boundUs(),
                plan.quantization());
    }

    /** Casts on edges whose two ends store floating values in different types (graph inputs and outputs are their declared type). */
    static List<Conversion> conversions(Graph g, Map<Node, PlannedNode> of, EnginePlan plan) {
        Map<String, Double> predicted = new HashMap<>();
        for (Conversion c : plan.conversions()) predicted.put(c.value() + "\u0000" + c.consumer(), c.predictedUs());
        List<Conversion> out = new ArrayList<>();
        for (Node n : g.nodes()) {
            PlannedNode consumer = of.get(n);
            for (Value v : n.inputs()) {
                if (v == null || v.isConstant() || !v.type().dtype().isFloating()) continue;
                DType from = storedAs(v, of), to = consumer.precision().storage();
                if (from != to) out.add(conversion(v, n.name(), from, to, predicted));
            }
        }
        for (Value v : g.outputs()) {
            if (!v.type().dtype().isFloating() || v.producer() == null) continue;
            DType from = storedAs(v, of), to = v.type().dtype();
            if (from != to) out.add(conversion(v, "", from, to, predicted));
        }
        return out;
    }

    private static Conversion conversion(Value v, String consumer, DType from, DType to, Map<String, Double> predicted) {
        Layout l = v.type().rank() >= 3 ? LayoutAssignerLayouts.of(v) : Layout.ANY;
        return new Conversion(v.name(), v.producer() == null ? "" : v.producer().name(), consumer, from, l, to, l,
                predicted.getOrDefault(v.name() + "\u0000" + consumer, Double.NaN));
    }

    /** The element type a value is stored in: its producer's precision storage, or its declared type for a graph input. */
    static DType storedAs(Value v, Map<Node, PlannedNode> of) {
        Node p = v.producer();
        if (p == null) return v.type().dtype();
        return of.get(p).precision().storage();
    }

    static Precision boundaryPrecision(DType d) {
        return switch (d) {
            case F16 -> Precision.FP16;
            case BF16 -> Precision.BF16;
            default -> Precision.FP32;
        };
    }

    /** The layout of a node's first image output (or image input, for a node without one); ANY when it touches no image tensor. */
    static Layout layoutOf(Node n) {
        for (Value o : n.outputs()) if (o.type().rank() >= 3) return LayoutAssignerLayouts.of(o);
        for (Value i : n.inputs()) if (LayoutAssigner.isImage(i)) return LayoutAssignerLayouts.of(i);
        return Layout.ANY;
    }

    /** Physical layout of an image value (undecided reads as channels-first, as the layout pass does). */
    private static final class LayoutAssignerLayouts {
        static Layout of(Value v) {
            Layout l = v.type().layout();
            return l == Layout.ANY ? Layout.NCHW : l;
        }
    }
}

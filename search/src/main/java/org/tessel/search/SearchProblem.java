package org.tessel.search;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.EnginePlan;
import org.tessel.search.domain.FusedChoice;
import org.tessel.search.domain.FusionDecision;
import org.tessel.search.domain.LiveTensor;
import org.tessel.search.domain.MemoryBudget;
import org.tessel.search.domain.Membership;
import org.tessel.search.domain.NodeDecision;
import org.tessel.search.domain.PrecisionPin;
import org.tessel.search.domain.Use;

/**
 * The search problem, independent of how it was priced: nodes in schedule order with their
 * supported choices, fusion candidates with their fused tactics, the uses between nodes, user
 * pins and the memory budget. Every strategy (Timefold, the baselines, the exact solver) reads
 * this one object and the {@link PlanEvaluator} scores their answers the same way.
 */
public final class SearchProblem {
    /**
     * A node: {@code choices} are every supported choice (fastest first); {@code searchChoices}
     * drops those dominated at their format (slower and no smaller workspace) and those a pin
     * forbids: the value range the strategies search. Both hold, besides the standalone choices,
     * the node's in-group choices: the formats of the fusion candidates holding it at which no
     * standalone tactic runs it ({@link Choice#inGroup}).
     */
    public record Node(int index, String name, String op, List<Choice> choices, List<Choice> searchChoices, long stepBaseBytes) {
        public Node {
            choices = List.copyOf(choices);
            searchChoices = List.copyOf(searchChoices);
        }
    }

    /**
     * A fusion candidate: members root first, fastest fused tactic per root format. A horizontal merge is a
     * candidate too (kind {@value #MERGE}, {@code merge} non-null): its members are the sibling chains' nodes,
     * the first chain's root first, and "fused" means merged: the wide chain and the Split run instead of the
     * chains, each {@code fused} entry pricing both ({@link Merge#parts} has them apart).
     */
    public record Candidate(int index, String kind, int[] members, Map<Format, FusedChoice> fused, boolean imageGroup, Merge merge,
                            Map<Format, FusedChoice> ruleFused) {
        /** The kind of a horizontal merge's candidate. */
        public static final String MERGE = "merge";

        /** {@code ruleFused}: per key, the fused tactic the fixed rule prefers (RuleSearch's order, then latency); null: the fastest, as {@code fused}. */
        public Candidate {
            members = members.clone();
            fused = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(fused)); // ordered: Map.copyOf iterates in a per-JVM order, and moves are built from these keys
            ruleFused = ruleFused == null ? fused : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(ruleFused));
            if (!ruleFused.keySet().equals(fused.keySet())) throw new IllegalArgumentException("candidate " + index + ": the rule's fused tactics cover " + ruleFused.keySet() + ", the fastest " + fused.keySet());
            if ((merge != null) != kind.equals(MERGE)) throw new IllegalArgumentException("candidate " + index + " of kind " + kind + (merge == null ? " has no merge" : " has a merge"));
        }

        public Candidate(int index, String kind, int[] members, Map<Format, FusedChoice> fused, boolean imageGroup, Merge merge) {
            this(index, kind, members, fused, imageGroup, merge, null);
        }

        /** A fusion candidate (no merge). */
        public Candidate(int index, String kind, int[] members, Map<Format, FusedChoice> fused, boolean imageGroup) {
            this(index, kind, members, fused, imageGroup, null);
        }

        public boolean isMerge() { return merge != null; }

        /** The key of {@link #fused} a root format maps to: its precision, and its image layout in an image group. */
        public Format key(Format rootFormat) {
            return new Format(rootFormat.precision(), imageGroup ? rootFormat.imageLayout() : org.tessel.api.Layout.ANY);
        }

        public int root() { return members[0]; }

        public boolean contains(int n) {
            for (int m : members) if (m == n) return true;
            return false;
        }

        public boolean overlaps(Candidate o) {
            for (int m : members) if (o.contains(m)) return true;
            return false;
        }

        public FusedChoice fusedChoice(Format rootFormat) { return fused.get(key(rootFormat)); }

        /** The fixed rule's fused tactic at this root format when {@code byRule}, else the fastest. */
        public FusedChoice fusedChoice(Format rootFormat, boolean byRule) { return (byRule ? ruleFused : fused).get(key(rootFormat)); }
    }

    /**
     * What a horizontal merge makes, named as {@code SiblingMerges} names it on the prepared graph: the chains
     * (node names, each root first), the wide chain's nodes and the Split; the wide chain runs as one node, a
     * fused group of kind {@code wideKind} of the nodes {@code wideGroup} when it has a tail or takes in the merged
     * input's producer (an RMSNormalization before merged projections: the wide chain's prologue), else the wide root
     * alone, op {@code wideOp}; per format key the two kernels' choices.
     */
    public record Merge(String kind, List<List<String>> chains, List<String> merged, String split, String wideOp, String wideKind, List<String> wideGroup,
                        Map<Format, MergeParts> parts) {
        public Merge {
            chains = chains.stream().map(List::copyOf).toList();
            merged = List.copyOf(merged);
            wideGroup = wideGroup == null ? null : List.copyOf(wideGroup);
            if ((wideKind == null) != (wideGroup == null)) throw new IllegalArgumentException("merge " + merged + ": a wide kind needs its group's members and back");
            parts = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(parts));
        }
    }

    /** A merge's two kernels at one format: the wide chain's and the Split's. */
    public record MergeParts(FusedChoice wide, FusedChoice split) {}

    private final String name;
    private final List<Node> nodes;
    private final List<Candidate> candidates;
    private final List<Use> uses;
    private final List<PrecisionPin> pins;
    private final List<LiveTensor> liveTensors;
    private final OptionalLong memoryBudget;
    private final List<List<Use>> usesIn = new ArrayList<>(), usesOut = new ArrayList<>();
    private final List<List<Candidate>> candidatesOf = new ArrayList<>();

    private final org.tessel.ir.Graph prepared;
    private final org.tessel.search.accuracy.AccuracyConstraint accuracy;

    public SearchProblem(String name, List<Node> nodes, List<Candidate> candidates, List<Use> uses, List<PrecisionPin> pins,
                         List<LiveTensor> liveTensors, OptionalLong memoryBudget) {
        this(name, nodes, candidates, uses, pins, liveTensors, memoryBudget, null);
    }

    /** @param prepared the graph the problem was built from (what a plan is applied to), or null for a hand-made problem */
    public SearchProblem(String name, List<Node> nodes, List<Candidate> candidates, List<Use> uses, List<PrecisionPin> pins,
                         List<LiveTensor> liveTensors, OptionalLong memoryBudget, org.tessel.ir.Graph prepared) {
        this(name, nodes, candidates, uses, pins, liveTensors, memoryBudget, prepared, null);
    }

    private SearchProblem(String name, List<Node> nodes, List<Candidate> candidates, List<Use> uses, List<PrecisionPin> pins,
                          List<LiveTensor> liveTensors, OptionalLong memoryBudget, org.tessel.ir.Graph prepared,
                          org.tessel.search.accuracy.AccuracyConstraint accuracy) {
        this.prepared = prepared;
        this.accuracy = accuracy;
        this.name = name;
        this.nodes = List.copyOf(nodes);
        this.candidates = List.copyOf(candidates);
        this.uses = List.copyOf(uses);
        this.pins = List.copyOf(pins);
        this.liveTensors = List.copyOf(liveTensors);
        this.memoryBudget = memoryBudget;
        for (int i = 0; i < nodes.size(); i++) {
            if (nodes.get(i).index() != i) throw new IllegalArgumentException("node " + nodes.get(i).name() + " has index " + nodes.get(i).index() + ", expected " + i);
            if (nodes.get(i).searchChoices().isEmpty()) throw new IllegalArgumentException("node '" + nodes.get(i).name() + "' (" + nodes.get(i).op() + ") has no choice to search");
            usesIn.add(new ArrayList<>());
            usesOut.add(new ArrayList<>());
            candidatesOf.add(new ArrayList<>());
        }
        for (Use u : uses) {
            if (u.consumer() >= 0) usesIn.get(u.consumer()).add(u);
            if (u.producer() >= 0) usesOut.get(u.producer()).add(u);
        }
        for (Candidate c : candidates) for (int m : c.members()) candidatesOf.get(m).add(c);
    }

    public String name() { return name; }

    /**
     * This problem under an accuracy budget: the plan's predicted error (the error model's per-node errors,
     * summed) may not exceed it. Built by {@link org.tessel.search.accuracy.AccuracyConstraint}.
     */
    public SearchProblem withAccuracy(org.tessel.search.accuracy.ErrorModel model, org.tessel.search.accuracy.AccuracyBudget budget) {
        return new SearchProblem(name, nodes, candidates, uses, pins, liveTensors, memoryBudget, prepared,
                new org.tessel.search.accuracy.AccuracyConstraint(this, model, budget));
    }

    /** The accuracy budget with its per-node errors, or null when there is none. */
    public org.tessel.search.accuracy.AccuracyConstraint accuracy() { return accuracy; }
    /** The prepared graph the problem was built from, or null for a hand-made problem. */
    public org.tessel.ir.Graph prepared() { return prepared; }
    public List<Node> nodes() { return nodes; }
    public Node node(int i) { return nodes.get(i); }
    public int size() { return nodes.size(); }
    public List<Candidate> candidates() { return candidates; }
    public List<Use> uses() { return uses; }
    public List<PrecisionPin> pins() { return pins; }
    public List<LiveTensor> liveTensors() { return liveTensors; }
    public OptionalLong memoryBudget() { return memoryBudget; }
    public List<Use> usesIn(int node) { return usesIn.get(node); }
    public List<Use> usesOut(int node) { return usesOut.get(node); }
    public List<Candidate> candidatesOf(int node) { return candidatesOf.get(node); }

    /** Number of decision entities: nodes plus fusion candidates. */
    public int entities() { return nodes.size() + candidates.size(); }

    /** Memberships of non-root members, the facts the consistency constraint joins on. */
    public List<Membership> memberships() {
        List<Membership> out = new ArrayList<>();
        for (Candidate c : candidates)
            for (int k = 1; k < c.members().length; k++) out.add(new Membership(c.index(), c.members()[k], c.root()));
        return out;
    }

    /** A fresh, unassigned planning solution. */
    public EnginePlan newSolution() {
        List<NodeDecision> ds = new ArrayList<>();
        for (Node n : nodes) ds.add(new NodeDecision(n.index(), n.name(), n.op(), n.searchChoices(), n.stepBaseBytes(),
                accuracy == null ? null : accuracy.unitsOf(n.index())));
        List<FusionDecision> fs = new ArrayList<>();
        for (Candidate c : candidates) fs.add(new FusionDecision(c.index(), c.kind(), c.members(), c.fused(), c.imageGroup()));
        // live tensors matter only against a budget; without one they would only slow the score down
        List<org.tessel.search.domain.AccuracyLimit> limits = accuracy == null ? List.of() : List.of(new org.tessel.search.domain.AccuracyLimit(accuracy.budgetUnits()));
        return memoryBudget.isPresent()
                ? new EnginePlan(ds, fs, uses, memberships(), pins, liveTensors, List.of(new MemoryBudget(memoryBudget.getAsLong())), limits)
                : new EnginePlan(ds, fs, uses, memberships(), pins, List.of(), List.of(), limits);
    }

    /** A planning solution holding this assignment. */
    public EnginePlan solution(Assignment a) {
        EnginePlan s = newSolution();
        for (NodeDecision d : s.nodes()) d.setChoice(a.choice(d.index()));
        for (FusionDecision f : s.fusions()) f.setFused(a.isFused(f.index()));
        return s;
    }

    /** Reads the assignment back out of a fully initialized solution. */
    public Assignment assignment(EnginePlan s) {
        Choice[] cs = new Choice[nodes.size()];
        boolean[] fs = new boolean[candidates.size()];
        for (NodeDecision d : s.nodes()) cs[d.index()] = d.choice();
        for (FusionDecision f : s.fusions()) fs[f.index()] = f.isFused();
        return new Assignment(cs, fs);
    }

    /**
     * Keeps, per format, the choices not dominated in (latency, workspace): with no memory budget
     * only the fastest survives. Input order is kept; the result is sorted fastest first.
     */
    public static List<Choice> undominated(List<Choice> choices, boolean keepWorkspaceTradeoffs) {
        return undominated(choices, keepWorkspaceTradeoffs, Comparator.comparing(Choice::tacticId));
    }

    /** As {@link #undominated(List, boolean)}, equally priced choices of one format ordered by {@code preference} (an algorithm selector's order). */
    public static List<Choice> undominated(List<Choice> choices, boolean keepWorkspaceTradeoffs, Comparator<Choice> preference) {
        Map<Format, List<Choice>> byFormat = new java.util.LinkedHashMap<>(); // insertion order: enum hash codes differ between runs
        for (Choice c : choices) byFormat.computeIfAbsent(c.format(), k -> new ArrayList<>()).add(c);
        List<Choice> out = new ArrayList<>();
        for (List<Choice> cs : byFormat.values()) {
            cs.sort(Comparator.comparingLong(Choice::latencyPs).thenComparingLong(Choice::workspaceBytes).thenComparing(preference));
            long minWs = Long.MAX_VALUE;
            for (Choice c : cs) {
                if (c.workspaceBytes() < minWs) {
                    out.add(c);
                    minWs = c.workspaceBytes();
                    if (!keepWorkspaceTradeoffs) break;
                }
            }
        }
        out.sort(Comparator.comparingLong(Choice::latencyPs).thenComparing(Choice::tacticId).thenComparing(c -> c.precision().ordinal()).thenComparing(c -> c.layout().ordinal()));
        return out;
    }

    /** Number of plans in the search space (product of value-range sizes times 2^candidates), as a double. */
    public double searchSpaceSize() {
        double s = Math.pow(2, candidates.size());
        for (Node n : nodes) s *= n.searchChoices().size();
        return s;
    }

    @Override public String toString() {
        return "SearchProblem(" + name + ", " + nodes.size() + " nodes, " + candidates.size() + " fusion candidates, " + uses.size() + " uses)";
    }
}

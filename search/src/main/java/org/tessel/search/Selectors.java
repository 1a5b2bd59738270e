package org.tessel.search;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;
import org.tessel.api.select.Algorithm;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.api.select.ChosenAlgorithm;
import org.tessel.api.select.NodeView;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.search.domain.Choice;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Where the search meets {@link AlgorithmSelector}s: the read-only {@link NodeView} of a node, a
 * node's choices offered to the selectors in turn (what they keep, in their order of preference),
 * and the final plan reported to them. A selector that throws, returns a candidate it was not
 * offered, or keeps nothing of a plain node fails the search, naming the selector and the node.
 */
public final class Selectors {
    private Selectors() {}

    /** The view of a graph node; {@code members} names the prepared graph's nodes a fused node computes (null: the node itself). */
    public static NodeView view(Node n, List<String> members) {
        List<org.tessel.api.TensorType> ins = new ArrayList<>();
        for (Value v : n.inputs()) ins.add(v == null ? null : v.type());
        List<String> body = n.body() == null ? List.of() : n.body().nodes().stream().map(Node::opName).toList();
        return new NodeView(n.name(), n.opName(), ins, n.outputs().stream().map(Value::type).toList(), n.attrs(),
                members == null ? List.of(n.name()) : members, body);
    }

    /** The choices the selectors keep, with each kept choice's rank in the last selector's order (lower is preferred). */
    record Selection(List<Choice> kept, Map<Choice, Integer> rank) {
        java.util.Comparator<Choice> preference() {
            return java.util.Comparator.<Choice>comparingInt(c -> rank.getOrDefault(c, Integer.MAX_VALUE)).thenComparing(Choice::tacticId);
        }
    }

    /**
     * Offers {@code choices} (supported ones, fastest first) to each selector in turn.
     *
     * @param fusionCandidate true when {@code n} is a fusion candidate's fused copy: then keeping nothing
     *                        returns an empty selection (the group is not fused) instead of failing
     */
    static Selection select(List<AlgorithmSelector> selectors, Node n, List<String> members, List<Choice> choices, Costing costing,
                            boolean fusionCandidate, String graph) {
        List<Choice> current = new ArrayList<>(choices);
        Map<Choice, Integer> rank = new HashMap<>();
        if (selectors.isEmpty() || current.isEmpty()) return new Selection(current, rank);
        current.sort(java.util.Comparator.comparingLong(Choice::latencyPs)); // stable: equal prices keep the costing's order
        NodeView view = view(n, members);
        for (AlgorithmSelector s : selectors) {
            Map<Algorithm, Choice> offered = new java.util.LinkedHashMap<>();
            for (Choice c : current) offered.putIfAbsent(algorithm(n, c, costing), c);
            List<Algorithm> picked;
            try {
                picked = s.selectAlgorithms(view, List.copyOf(offered.keySet()));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("selector '" + s.name() + "' failed on " + n.describe() + " in graph '" + graph + "': " + describe(e), e);
            }
            if (picked == null)
                throw new IllegalArgumentException("selector '" + s.name() + "' returned null for " + n.describe() + " in graph '" + graph + "' (return the candidates to keep)");
            List<Choice> next = new ArrayList<>();
            rank.clear();
            Set<Algorithm> seen = new LinkedHashSet<>();
            for (Algorithm a : picked) {
                Choice c = offered.get(a);
                if (c == null)
                    throw new IllegalArgumentException("selector '" + s.name() + "' returned " + (a == null ? "null" : a.describe()) + " for " + n.describe()
                            + ", which it was not offered (return elements of the candidate list)");
                if (!seen.add(a)) continue;
                rank.put(c, next.size());
                next.add(c);
            }
            if (next.isEmpty()) {
                if (fusionCandidate) return new Selection(List.of(), Map.of());
                throw new IllegalArgumentException("selector '" + s.name() + "' kept no candidate for " + n.describe() + " in graph '" + graph + "' (offered: "
                        + String.join(", ", offered.keySet().stream().map(Algorithm::describe).toList()) + ")");
            }
            current = next;
        }
        return new Selection(current, rank);
    }

    /** What a selector threw: a plugin failure's own message (it names the plugin), else the exception's class and message. */
    private static String describe(RuntimeException e) {
        if (e instanceof org.tessel.api.PluginException) return e.getMessage();
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }

    static Algorithm algorithm(Node n, Choice c, Costing costing) {
        OptionalDouble measured = costing.measuredUs(n, c);
        double predicted = measured.isPresent() ? costing.predictedUs(n, c) : c.latencyUs();
        return new Algorithm(c.variant().isEmpty() ? c.tacticId() : c.tacticId() + "/" + c.variant(), c.precision().text(), c.layout(), predicted, measured, c.workspaceBytes());
    }

    /** Tells each selector the plan's choices: one entry per node of the planned graph, in schedule order. */
    public static void report(List<AlgorithmSelector> selectors, PlanApplier.Applied applied) {
        if (selectors.isEmpty()) return;
        Graph g = applied.graph();
        Map<String, PlannedNode> planned = applied.plan().byName();
        Map<String, List<String>> members = new HashMap<>();
        for (FusedGroup fg : applied.plan().groups()) members.put(fg.name(), fg.members());
        List<ChosenAlgorithm> out = new ArrayList<>();
        for (Node n : g.nodes()) {
            PlannedNode p = planned.get(n.name());
            if (p == null) continue;
            out.add(new ChosenAlgorithm(view(n, members.get(n.name())),
                    new Algorithm(p.tactic(), p.precision().text(), p.layout(), p.predictedUs(), OptionalDouble.empty(), 0)));
        }
        List<ChosenAlgorithm> report = List.copyOf(out);
        for (AlgorithmSelector s : selectors) {
            try {
                s.reportAlgorithms(report);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("selector '" + s.name() + "' failed in reportAlgorithms: " + describe(e), e);
            }
        }
    }
}

package org.tessel.tactics.plan;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.tessel.cost.Precision;

/**
 * The contract between the search and the engine builders: which sibling chains of the prepared graph
 * are merged horizontally (one wider op and a Split), which nodes are fused into which groups, and for
 * every node of the planned graph (the prepared graph with those merges made and groups fused) its
 * tactic, precision, layout and stream, and the conversions on edges that the formats imply. The search makes it, {@code tessel build} builds exactly it, an engine file stores
 * it, and {@code tessel inspect} prints it back. Immutable.
 *
 * @param model       the model's (graph's) name
 * @param strategy    the strategy that chose it (exact, timefold, greedy, sequential, rule, random, or "file" for a hand-written plan)
 * @param target      the device the plan was priced for (a DeviceSpec name)
 * @param seed        the search's seed
 * @param merges      horizontal merges, made (in this order) before any group is fused
 * @param groups      fused groups, in the order they are fused (members may be nodes a merge made)
 * @param nodes       one entry per node of the planned graph, in schedule order
 * @param conversions casts and reformats on edges
 * @param predictedUs predicted whole-engine latency, microseconds (NaN when unpriced)
 * @param boundUs     the problem's lower bound, microseconds (NaN when unknown)
 * @param quantization the INT8 nodes' activation scales ({@link QuantizationTable#EMPTY} for a plan without INT8)
 */
public record EnginePlan(String model, String strategy, String target, long seed, List<PlannedMerge> merges, List<FusedGroup> groups, List<PlannedNode> nodes,
                         List<Conversion> conversions, double predictedUs, double boundUs, QuantizationTable quantization) {
    public EnginePlan {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(quantization, "quantization");
        Objects.requireNonNull(strategy, "strategy");
        Objects.requireNonNull(target, "target");
        merges = List.copyOf(merges);
        groups = List.copyOf(groups);
        nodes = List.copyOf(nodes);
        conversions = List.copyOf(conversions);
        Map<String, PlannedNode> seen = new LinkedHashMap<>();
        for (PlannedNode n : nodes)
            if (seen.put(n.node(), n) != null) throw new PlanException("plan for '" + model + "' lists node '" + n.node() + "' twice");
        Map<String, String> mergedIn = new LinkedHashMap<>();
        for (PlannedMerge m : merges) {
            for (String n : m.members()) {
                String prev = mergedIn.put(n, m.name());
                if (prev != null) throw new PlanException("plan for '" + model + "': node '" + n + "' is in two merges, '" + prev + "' and '" + m.name() + "'");
            }
            for (String n : m.made())
                if (mergedIn.containsKey(n)) throw new PlanException("plan for '" + model + "': merge '" + m.name() + "' makes node '" + n + "', a name merge '" + mergedIn.get(n) + "' uses");
        }
        Map<String, String> memberOf = new LinkedHashMap<>();
        for (FusedGroup g : groups)
            for (String m : g.members()) {
                String prev = memberOf.put(m, g.name());
                if (prev != null) throw new PlanException("plan for '" + model + "': node '" + m + "' is in two fused groups, '" + prev + "' and '" + g.name() + "'");
            }
    }

    /** A plan without quantization scales. */
    public EnginePlan(String model, String strategy, String target, long seed, List<PlannedMerge> merges, List<FusedGroup> groups, List<PlannedNode> nodes,
                      List<Conversion> conversions, double predictedUs, double boundUs) {
        this(model, strategy, target, seed, merges, groups, nodes, conversions, predictedUs, boundUs, QuantizationTable.EMPTY);
    }

    /** A plan without horizontal merges or quantization scales. */
    public EnginePlan(String model, String strategy, String target, long seed, List<FusedGroup> groups, List<PlannedNode> nodes,
                      List<Conversion> conversions, double predictedUs, double boundUs) {
        this(model, strategy, target, seed, List.of(), groups, nodes, conversions, predictedUs, boundUs, QuantizationTable.EMPTY);
    }

    /** The planned node of this name, or null. */
    public PlannedNode node(String name) {
        for (PlannedNode n : nodes) if (n.node().equals(name)) return n;
        return null;
    }

    /** Planned nodes by name, in schedule order. */
    public Map<String, PlannedNode> byName() {
        Map<String, PlannedNode> m = new LinkedHashMap<>();
        for (PlannedNode n : nodes) m.put(n.node(), n);
        return Collections.unmodifiableMap(m);
    }

    /** The group whose fused node has this name, or null. */
    public FusedGroup group(String name) {
        for (FusedGroup g : groups) if (g.name().equals(name)) return g;
        return null;
    }

    /** The precisions the plan uses, each with its node count. */
    public Map<Precision, Integer> precisionMix() {
        Map<Precision, Integer> m = new TreeMap<>();
        for (PlannedNode n : nodes) m.merge(n.precision(), 1, Integer::sum);
        return m;
    }

    /** The one precision every node uses, or null when the plan mixes precisions. */
    public Precision uniformPrecision() {
        Precision p = null;
        for (PlannedNode n : nodes) {
            if (p == null) p = n.precision();
            else if (p != n.precision()) return null;
        }
        return p;
    }

    /** Streams used (the largest stream index plus one; 1 for an empty plan). */
    public int streams() {
        int s = 0;
        for (PlannedNode n : nodes) s = Math.max(s, n.stream());
        return s + 1;
    }

    public EnginePlan withNodes(List<PlannedNode> ns) { return new EnginePlan(model, strategy, target, seed, merges, groups, ns, conversions, predictedUs, boundUs, quantization); }

    public EnginePlan withStrategy(String s) { return new EnginePlan(model, s, target, seed, merges, groups, nodes, conversions, predictedUs, boundUs, quantization); }

    /** The plan with these INT8 activation scales. */
    public EnginePlan withQuantization(QuantizationTable q) { return new EnginePlan(model, strategy, target, seed, merges, groups, nodes, conversions, predictedUs, boundUs, q); }

    /** A table for people: one line per node (name, op, tactic, precision, layout, stream, predicted us), then the merges, groups and conversions. */
    public String render() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "plan for %s: strategy %s, target %s, seed %d, %d nodes, %d merges, %d fused groups, %d conversions, predicted %s ms%n",
                model, strategy, target, seed, nodes.size(), merges.size(), groups.size(), conversions.size(), Double.isNaN(predictedUs) ? "?" : String.format(Locale.ROOT, "%.4f", predictedUs / 1000)));
        int w = 4;
        for (PlannedNode n : nodes) w = Math.max(w, n.node().length());
        int tw = 6;
        for (PlannedNode n : nodes) tw = Math.max(tw, n.tactic().length());
        String fmt = "%-" + w + "s  %-18s  %-" + tw + "s  %-5s  %-4s  %6s  %10s%n";
        sb.append(String.format(Locale.ROOT, fmt, "node", "op", "tactic", "prec", "lay", "stream", "pred_us"));
        for (PlannedNode n : nodes)
            sb.append(String.format(Locale.ROOT, fmt, n.node(), abbreviate(n.op(), 18), n.tactic(), n.precision().text(), n.layout() == org.tessel.api.Layout.ANY ? "-" : n.layout().text(),
                    n.stream(), Double.isNaN(n.predictedUs()) ? "-" : String.format(Locale.ROOT, "%.3f", n.predictedUs())));
        for (PlannedMerge m : merges)
            sb.append("merge ").append(m.name()).append(" (").append(m.kind()).append("): ").append(String.join(" | ", m.chains().stream().map(c -> String.join(", ", c)).toList()))
                    .append(" -> ").append(String.join(", ", m.merged())).append(", split ").append(m.split()).append('\n');
        for (FusedGroup g : groups) sb.append("group ").append(g.name()).append(" (").append(g.kind()).append("): ").append(String.join(", ", g.members())).append('\n');
        for (Conversion c : conversions) sb.append("conversion ").append(c).append('\n');
        if (!quantization.scales().isEmpty())
            sb.append(String.format(Locale.ROOT, "%s: %d tensor scales (calibrator %s)%s%n", quantization.format().text(), quantization.scales().size(), quantization.calibrator(),
                    quantization.weights().isEmpty() ? "" : String.format(Locale.ROOT, ", the model's channel scales for %d weights", quantization.weights().size())));
        for (var f : quantization.fallbacks().entrySet()) sb.append(quantization.format().text()).append(" fallback ").append(f.getKey()).append(": ").append(f.getValue()).append('\n');
        return sb.toString();
    }

    private static String abbreviate(String s, int n) { return s.length() <= n ? s : s.substring(0, n - 1) + "~"; }
}

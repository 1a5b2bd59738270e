package org.tessel.cli;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.calib.ExplicitQuantization;
import org.tessel.search.PrecisionRule;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.FusedGroup;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;
import org.tessel.tactics.plan.QuantizationTable;

/**
 * `tessel build` of a Q/DQ model (explicit quantization, as TensorRT's): the scales the model's Q/DQ
 * pairs state become the plan's quantization table, of the format the Q/DQ states (INT8 for int8,
 * FP8 for float8 e4m3fn; "INT8" below stands for it); the nodes the Q/DQ placement marks INT8 are
 * pinned to INT8 by precision rules (the mechanism `--precision 'X=int8'` uses), or fall back, with
 * the reason, where no INT8 tactic runs them; the other nodes follow the search, which may put a node
 * at INT8 only where the model gives every tensor it reads and writes a scale (a node it put there
 * without one is searched again without INT8).
 */
final class ExplicitQdq {
    private final Graph prepared;
    private final Set<Precision> floating;
    private final Set<String> pinned = new LinkedHashSet<>();
    private final Set<String> noInt8 = new TreeSet<>();
    private final Map<String, String> fallbacks = new TreeMap<>();
    private final List<String> warnings = new ArrayList<>();
    private final CalibrationOptions.Scales scales;
    private final ExplicitQuantization.Result qdq;
    private final Precision format;
    private final String name;

    /** @param floating the precisions the build allows besides the quantized one */
    ExplicitQdq(ExplicitQuantization.Result qdq, Graph prepared, Set<Precision> floating) {
        this.prepared = prepared;
        this.qdq = qdq;
        this.format = qdq.format();
        this.name = format.text().toUpperCase(java.util.Locale.ROOT);
        this.floating = EnumSet.copyOf(floating);
        this.floating.removeIf(Precision::quantized);
        Map<String, Float> present = new TreeMap<>();
        for (var e : qdq.scales().entrySet()) {
            Value v = prepared.value(e.getKey());
            if (v != null && !v.isConstant()) present.put(e.getKey(), e.getValue());
        }
        java.util.Set<String> inGroup = null;
        for (String n : qdq.quantizedNodes()) {
            Node node = find(n);
            if (node == null) {
                warnings.add("node '" + n + "', which the Q/DQ marks " + name + ", was folded away by the optimizer");
                continue;
            }
            String why = CalibrationOptions.whyNo(node, format);
            // no tactic runs it alone (a MatMul: cuBLASLt runs one only inside a fused gemm_bias_act): pinned where a fused group can run it quantized
            if (why != null && inGroup == null) inGroup = CalibrationOptions.runnableAt(prepared, format);
            if (why != null && inGroup.contains(n)) why = null;
            if (why == null) pinned.add(n);
            else {
                fallbacks.put(n, "Q/DQ marks it " + name + ", but " + why);
                noInt8.add(n);
            }
        }
        for (String w : qdq.weightScales().keySet()) {
            Value v = prepared.value(w);
            if (v == null || !v.isConstant())
                warnings.add("weight %" + w + ": the optimizer changed it (folded a BatchNormalization into it, or merged it with a sibling's), so the model's channel scales "
                        + "do not apply; it is quantized at its own amax/" + (format == Precision.FP8 ? "448" : "127"));
        }
        scales = new CalibrationOptions.Scales(QuantizationTable.EXPLICIT, format, present,
                "explicit quantization, " + present.size() + " tensor scales and " + qdq.weightScales().size() + " weights' channel scales from the model's Q/DQ", qdq.weightScales());
    }

    private Node find(String name) {
        for (Node n : prepared.nodes()) if (n.name().equals(name)) return n;
        return null;
    }

    CalibrationOptions.Scales scales() { return scales; }

    List<String> warnings() { return warnings; }

    /** Nodes the Q/DQ marked INT8 that run at another precision, with the reason. */
    Map<String, String> fallbacks() { return fallbacks; }

    /** The quantized precision of the model's Q/DQ (INT8 or FP8). */
    Precision format() { return format; }

    /** The nodes pinned to INT8 (the Q/DQ marks them and an INT8 tactic runs them). */
    Set<String> pinned() { return pinned; }

    /** The user's rules, then one INT8 pin per marked node, then no INT8 for the nodes whose tensors lack scales. */
    List<PrecisionRule> rules(List<PrecisionRule> user) {
        List<PrecisionRule> out = new ArrayList<>(user);
        for (String n : pinned) out.add(new PrecisionRule(n, Set.of(format)));
        for (String n : noInt8) out.add(new PrecisionRule(n, floating));
        return out;
    }

    /**
     * The folded activation tensors whose rounding the plan would lose: the Q/DQ pair's tensor is
     * neither written by an INT8 node (which stores it quantized) nor read through the pair only by
     * INT8 nodes (which quantize it as they read it). Their pairs must stay nodes.
     */
    Set<String> unrealized(PlanApplier.Applied applied) {
        EnginePlan plan = applied.plan();
        Map<String, String> groupOf = new TreeMap<>();
        for (FusedGroup g : plan.groups()) for (String m : g.members()) groupOf.put(m, g.name());
        Set<String> out = new TreeSet<>();
        for (var e : qdq.pairReaders().entrySet()) {
            Value v = prepared.value(e.getKey());
            if (v == null) continue;
            Node producer = v.producer();
            String pg = producer == null ? null : groupOf.getOrDefault(producer.name(), producer.name());
            if (pg != null && quantized(plan, pg)) continue;
            boolean all = true;
            for (String r : e.getValue()) {
                String rg = groupOf.getOrDefault(r, r);
                // a reader inside the producer's group reads the tensor unquantized; a graph output is never quantized
                if (r.isEmpty() || !quantized(plan, rg) || rg.equals(pg)) { all = false; break; }
            }
            if (!all) out.add(e.getKey());
        }
        return out;
    }

    private boolean quantized(EnginePlan plan, String node) {
        PlannedNode p = plan.node(node);
        return p != null && p.precision() == format;
    }

    /**
     * Looks at a solved plan: true (search again) when a node runs at INT8 without a scale for every
     * tensor it reads and writes; its members not pinned lose INT8, else (a pinned node whose output
     * the model leaves unquantized, and no fused group carries it to a Q/DQ pair) the pin is dropped
     * and the node listed as a fallback.
     */
    boolean refine(PlanApplier.Applied applied) {
        EnginePlan plan = applied.plan();
        Graph planned = applied.graph();
        QuantizationTable t = QuantizationTable.forPlanned(planned, plan, format, scales.calibrator(), scales.scales());
        Map<String, List<String>> members = new TreeMap<>();
        for (FusedGroup g : plan.groups()) members.put(g.name(), g.members());
        boolean changed = false;
        for (Node n : planned.nodes()) {
            PlannedNode p = plan.node(n.name());
            if (p == null || p.precision() != format) continue;
            Value lacking = null;
            // an output without a scale is written in f32 (explicit quantization); every activation input needs one
            for (Value v : QuantizationTable.activations(n)) if (!n.outputs().contains(v) && Float.isNaN(t.scale(v.name()))) { lacking = v; break; }
            if (lacking == null) continue;
            List<String> ms = members.getOrDefault(n.name(), List.of(n.name())).stream().filter(prepared::hasNodeNamed).toList();
            boolean added = false;
            for (String m : ms) if (!pinned.contains(m) && noInt8.add(m)) added = true;
            if (!added)
                for (String m : ms) {
                    if (!pinned.remove(m)) continue;
                    noInt8.add(m);
                    fallbacks.put(m, "Q/DQ marks it " + name + ", but tensor %" + lacking.name() + " of " + n.describe()
                            + " has no Q/DQ pair (no scale) to read it through");
                    added = true;
                }
            if (!added)
                throw new IllegalArgumentException(n.describe() + ": the search put it at " + name + ", but the model's Q/DQ gives tensor %" + lacking.name() + " no scale");
            changed = true;
        }
        return changed;
    }
}

package org.tessel.tactics.plan;

import java.util.LinkedHashMap;
import java.util.Map;
import org.tessel.cost.DeviceSpec;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;

/**
 * Checks a plan against the graph it is to be built for, before any device work: every node of the
 * planned graph has exactly one planned entry with the same op, every tactic is a catalogue id that
 * implements the node at the planned precision and layout, a variant of a tactic that declares its variants
 * ({@link Tactic#planVariants}) is one of them, and the device has every planned
 * precision, and the plan carries a quantization scale, of the node's format, for every activation
 * tensor an INT8 or FP8 node reads or writes. Each failure is a {@link PlanException} naming the node and the reason.
 */
public final class PlanCheck {
    private PlanCheck() {}

    /**
     * @param planned the graph after the plan was applied (groups fused, layouts set)
     * @param device  the device the engine is built for, or null to skip the precision check
     */
    public static void check(EnginePlan plan, Graph planned, TacticCatalog catalog, DeviceSpec device) {
        Map<String, PlannedNode> byName = new LinkedHashMap<>(plan.byName());
        for (Node n : planned.nodes()) {
            PlannedNode p = byName.remove(n.name());
            if (p == null) throw new PlanException("plan for '" + plan.model() + "' has no entry for " + n.describe());
            if (!p.op().equals(n.opName()))
                throw new PlanException(n.describe() + ": the plan says op " + p.op() + " (the plan was made for another graph)");
            Tactic t;
            try {
                t = catalog.byId(p.tacticId());
            } catch (IllegalArgumentException e) {
                throw new PlanException(n.describe() + ": " + e.getMessage());
            }
            if (!t.appliesTo(n)) throw new PlanException(n.describe() + ": tactic " + t.id() + " does not implement this op" + kindOf(n));
            String why = t.whyNot(n, p.precision(), p.layout());
            if (why != null) throw new PlanException(n.describe() + ": tactic " + t.id() + " cannot run it at " + p.precision().text() + "/" + p.layout().text() + ": " + why);
            if (!p.variant().isEmpty() && !t.planVariants().isEmpty() && !t.planVariants().contains(p.variant()))
                throw new PlanException(n.describe() + ": tactic " + t.id() + " has no variant '" + p.variant() + "' (its variants: " + String.join(", ", t.planVariants()) + ")");
            if (p.precision().quantized() && p.precision() != plan.quantization().format() && !plan.quantization().scales().isEmpty())
                throw new PlanException(n.describe() + ": runs at " + p.precision().text() + ", but the plan's quantization scales are " + plan.quantization().format().text()
                        + " ones (one quantized format per plan: calibrate for " + p.precision().text() + ")");
            if (p.precision().quantized())
                for (org.tessel.ir.Value v : QuantizationTable.activations(n))
                    // explicit quantization: where the model puts no Q/DQ on an INT8 node's output, the node writes f32 (TensorRT's int8-in, float-out)
                    if (Float.isNaN(plan.quantization().scale(v.name())) && !(plan.quantization().explicit() && n.outputs().contains(v)))
                        throw new PlanException(n.describe() + ": runs at " + p.precision().text() + ", but the plan has no quantization scale for its tensor %" + v.name()
                                + " (calibrate with --calib, or give a calibration cache that covers it)");
            if (device != null && !device.isCpu() && !device.supports(p.precision()))
                throw new PlanException(n.describe() + ": precision " + p.precision().text() + " is not supported by " + device.name()
                        + (p.precision() == org.tessel.cost.Precision.FP8 ? " (FP8 tensor cores are sm_89 and later: h100, h200, l4, rtx4090)" : ""));
        }
        if (!byName.isEmpty())
            throw new PlanException("plan for '" + plan.model() + "' names node" + (byName.size() > 1 ? "s " : " ") + String.join(", ", byName.keySet().stream().map(s -> "'" + s + "'").toList())
                    + " that the planned graph '" + planned.name() + "' does not have");
    }

    private static String kindOf(Node n) {
        return n.opName().equals("tessel.Fused") ? " (fused kind " + n.attrs().getString("kind", "?") + ")" : "";
    }
}

package org.tessel.tactics.plan;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;

/**
 * The quantization scales an INT8 or FP8 plan carries: for every activation tensor a node of the
 * planned graph at the table's {@link #format} reads or writes, the symmetric per-tensor scale (real
 * value = int8 code * scale, scale = amax / 127; or E4M3 value * scale, scale = amax / 448), and the
 * calibrator that chose them. One format per plan: a tensor has one scale. Weights are not here:
 * builders quantize them from the weights themselves. Immutable; empty for a plan without INT8 or FP8.
 *
 * @param calibrator the calibrator that chose the scales (entropy, minmax, percentile:99.99, mse, or
 *                   "file" for a hand-edited cache, or "qdq" for a Q/DQ model's own scales: {@link #explicit()}); "" for the empty table
 * @param scales     scale per value name of the planned graph, sorted by name
 * @param fallbacks  nodes a precision rule asked to run at INT8 that no INT8 tactic runs, each with
 *                   the reason (they run at another precision because the user allowed fallback)
 * @param format     the quantized precision the scales are for: {@link Precision#INT8} or {@link Precision#FP8}
 */
public record QuantizationTable(String calibrator, Map<String, Float> scales, Map<String, String> fallbacks, Precision format) {
    /** The table of a plan without INT8 nodes. */
    public static final QuantizationTable EMPTY = new QuantizationTable("", Map.of(), Map.of());

    /** An INT8 table. */
    public QuantizationTable(String calibrator, Map<String, Float> scales, Map<String, String> fallbacks) {
        this(calibrator, scales, fallbacks, Precision.INT8);
    }

    public QuantizationTable {
        Objects.requireNonNull(calibrator, "calibrator");
        if (!format.quantized()) throw new PlanException("a quantization table holds int8 or fp8 scales, not " + format.text());
        scales = Collections.unmodifiableMap(new TreeMap<>(scales));
        fallbacks = Collections.unmodifiableMap(new TreeMap<>(fallbacks));
        for (var e : scales.entrySet()) {
            float s = e.getValue();
            if (!(s > 0) || Float.isInfinite(s))
                throw new PlanException("quantization scale of tensor '" + e.getKey() + "' must be positive and finite, got " + s);
        }
    }

    /** The calibrator name of scales taken from a Q/DQ model (explicit quantization) rather than calibrated. */
    public static final String EXPLICIT = "qdq";

    /**
     * True for explicit quantization (scales from the model's Q/DQ pairs): an INT8 node's output
     * the model leaves without a Q/DQ pair has no scale and is written in f32 (int8 in, float out, as
     * TensorRT runs such a layer); its activation inputs always have scales.
     */
    public boolean explicit() { return calibrator.equals(EXPLICIT); }

    public boolean isEmpty() { return scales.isEmpty() && fallbacks.isEmpty(); }

    /** The scale of a tensor, or NaN when the table has none. */
    public float scale(String value) {
        Float s = scales.get(value);
        return s == null ? Float.NaN : s;
    }

    public QuantizationTable withFallbacks(Map<String, String> f) { return new QuantizationTable(calibrator, scales, f, format); }

    /**
     * The table for a planned graph from scales calibrated on the graph before the plan was applied
     * (keyed by its value names, which applying keeps), for a quantized precision: every floating
     * activation tensor a node at that precision reads or writes gets its calibrated scale. Values the plan made have none of their own: a fused
     * node's output has the scale of its body's output (the member that made it), a
     * reformat's output has its input's scale (a layout change moves values, it does not change them),
     * and the wide output of a horizontal merge the largest scale of the Split outputs it is cut into.
     * Tensors whose scale cannot be found are left out, so {@link PlanCheck} names them.
     */
    public static QuantizationTable forPlanned(Graph planned, EnginePlan plan, String calibrator, Map<String, Float> calibrated) {
        return forPlanned(planned, plan, Precision.INT8, calibrator, calibrated);
    }

    /** As above for the nodes at {@code format} (INT8 or FP8), whose scales {@code calibrated} holds. */
    public static QuantizationTable forPlanned(Graph planned, EnginePlan plan, Precision format, String calibrator, Map<String, Float> calibrated) {
        Map<String, Float> out = new TreeMap<>();
        Map<String, PlannedNode> byName = plan.byName();
        for (Node n : planned.nodes()) {
            PlannedNode p = byName.get(n.name());
            if (p == null || p.precision() != format) continue;
            for (Value v : activations(n)) {
                float s = resolve(planned, v, calibrated, 0);
                if (!Float.isNaN(s)) out.put(v.name(), s);
            }
        }
        return new QuantizationTable(calibrator, out, Map.of(), format);
    }

    /** The floating, non-constant tensors a node reads and writes: what an INT8 or FP8 kernel quantizes. */
    public static List<Value> activations(Node n) {
        java.util.List<Value> out = new java.util.ArrayList<>();
        for (Value v : n.inputs()) if (v != null && !v.isConstant() && v.type().dtype().isFloating() && !out.contains(v)) out.add(v);
        for (Value v : n.outputs()) if (v.type().dtype().isFloating()) out.add(v);
        return out;
    }

    private static float resolve(Graph g, Value v, Map<String, Float> calibrated, int depth) {
        Float s = calibrated.get(v.name());
        if (s != null) return s;
        if (depth > 16) return Float.NaN;
        Node p = v.producer();
        if (p != null && p.opName().equals(TesselOps.REFORMAT)) return resolve(g, p.input(0), calibrated, depth + 1);
        if (p != null && p.body() != null) {
            // a fused node's output is its body's output, named as the member that made it
            Value inner = p.body().outputs().get(p.outputs().indexOf(v));
            Float b = calibrated.get(inner.name());
            if (b != null) return b;
            if (inner.producer() != null && inner.producer().body() != null) return resolve(p.body(), inner, calibrated, depth + 1);
        }
        float best = Float.NaN;
        for (Node u : g.users(v)) {
            if (!u.opName().equals("Split") && !u.opName().equals(TesselOps.REFORMAT)) continue;
            for (Value o : u.outputs()) {
                float so = resolve(g, o, calibrated, depth + 1);
                if (!Float.isNaN(so) && (Float.isNaN(best) || so > best)) best = so;
            }
        }
        return best;
    }
}

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
 * calibrator that chose them. One format per plan: a tensor has one scale. Weights are quantized per
 * output channel: at the scales {@link #weights} gives for a weight (a Q/DQ model's own, so its codes
 * come back exactly), else at the weight's own amax/127 (FP8: one amax/448 for the tensor). Builders
 * ask {@link #weightScales} and nothing else. Immutable; empty for a plan without INT8 or FP8.
 *
 * @param calibrator the calibrator that chose the scales (entropy, minmax, percentile:99.99, mse, or
 *                   "file" for a hand-edited cache, or "qdq" for a Q/DQ model's own scales: {@link #explicit()}); "" for the empty table
 * @param scales     scale per value name of the planned graph, sorted by name
 * @param fallbacks  nodes a precision rule asked to run at INT8 that no INT8 tactic runs, each with
 *                   the reason (they run at another precision because the user allowed fallback)
 * @param format     the quantized precision the scales are for: {@link Precision#INT8} or {@link Precision#FP8}
 * @param weights    per weight (constant) name, the scale of each of its output channels as the contraction
 *                   that reads it counts them (its channel axis); empty when the builders derive them
 */
public record QuantizationTable(String calibrator, Map<String, Float> scales, Map<String, String> fallbacks, Precision format, Map<String, float[]> weights) {
    /** The table of a plan without INT8 nodes. */
    public static final QuantizationTable EMPTY = new QuantizationTable("", Map.of(), Map.of());

    /** An INT8 table. */
    public QuantizationTable(String calibrator, Map<String, Float> scales, Map<String, String> fallbacks) {
        this(calibrator, scales, fallbacks, Precision.INT8);
    }

    /** A table whose weight scales the builders derive from the weights. */
    public QuantizationTable(String calibrator, Map<String, Float> scales, Map<String, String> fallbacks, Precision format) {
        this(calibrator, scales, fallbacks, format, Map.of());
    }

    public QuantizationTable {
        Objects.requireNonNull(calibrator, "calibrator");
        TreeMap<String, float[]> ws = new TreeMap<>();
        for (var e : weights.entrySet()) {
            float[] v = e.getValue().clone();
            if (v.length == 0) throw new PlanException("weight '" + e.getKey() + "' has no channel scales");
            for (int c = 0; c < v.length; c++)
                if (!(v[c] > 0) || Float.isInfinite(v[c]))
                    throw new PlanException("scale of channel " + c + " of weight '" + e.getKey() + "' must be positive and finite, got " + v[c]);
            ws.put(e.getKey(), v);
        }
        weights = Collections.unmodifiableMap(ws);
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

    public boolean isEmpty() { return scales.isEmpty() && fallbacks.isEmpty() && weights.isEmpty(); }

    /**
     * The scales weight {@code w} is quantized with, one per output channel ({@code channels} of them),
     * or null when the table has none for it (the builder derives them from the weight). A copy.
     */
    public float[] weightScales(String w, int channels) {
        float[] s = weights.get(w);
        if (s == null) return null;
        if (s.length != channels)
            throw new PlanException("weight '" + w + "' has " + s.length + " channel scales in the plan, but its node has " + channels + " output channels");
        return s.clone();
    }

    @Override public boolean equals(Object o) {
        if (!(o instanceof QuantizationTable t) || !calibrator.equals(t.calibrator) || !scales.equals(t.scales) || !fallbacks.equals(t.fallbacks)
                || format != t.format || !weights.keySet().equals(t.weights.keySet())) return false;
        for (var e : weights.entrySet()) if (!java.util.Arrays.equals(e.getValue(), t.weights.get(e.getKey()))) return false;
        return true;
    }

    @Override public int hashCode() {
        int h = Objects.hash(calibrator, scales, fallbacks, format);
        for (var e : weights.entrySet()) h = 31 * h + e.getKey().hashCode() * 17 + java.util.Arrays.hashCode(e.getValue());
        return h;
    }

    @Override public String toString() {
        return "QuantizationTable[" + calibrator + ", " + format.text() + ", " + scales.size() + " tensor scales, " + weights.size() + " weight scale sets, " + fallbacks.size() + " fallbacks]";
    }

    /** The scale of a tensor, or NaN when the table has none. */
    public float scale(String value) {
        Float s = scales.get(value);
        return s == null ? Float.NaN : s;
    }

    public QuantizationTable withFallbacks(Map<String, String> f) { return new QuantizationTable(calibrator, scales, f, format, weights); }

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
        return forPlanned(planned, plan, format, calibrator, calibrated, Map.of());
    }

    /**
     * As above, with given weight scales (a Q/DQ model's, by weight name): those of the weights a node
     * at {@code format} reads (directly, or as a fused body's input) are kept.
     */
    public static QuantizationTable forPlanned(Graph planned, EnginePlan plan, Precision format, String calibrator, Map<String, Float> calibrated,
                                               Map<String, float[]> weightScales) {
        Map<String, Float> out = new TreeMap<>();
        Map<String, float[]> ws = new TreeMap<>();
        Map<String, PlannedNode> byName = plan.byName();
        for (Node n : planned.nodes()) {
            PlannedNode p = byName.get(n.name());
            if (p == null || p.precision() != format) continue;
            for (Value v : activations(n)) {
                float s = resolve(planned, v, calibrated, 0);
                if (!Float.isNaN(s)) out.put(v.name(), s);
            }
            constantsRead(n, weightScales, ws);
        }
        return new QuantizationTable(calibrator, out, Map.of(), format, ws);
    }

    private static void constantsRead(Node n, Map<String, float[]> given, Map<String, float[]> out) {
        for (Value v : n.inputs()) if (v != null && v.isConstant() && given.containsKey(v.name())) out.put(v.name(), given.get(v.name()));
        if (n.body() != null) for (Node b : n.body().nodes()) constantsRead(b, given, out);
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

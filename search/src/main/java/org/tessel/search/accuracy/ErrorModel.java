package org.tessel.search.accuracy;

import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tessel.cost.Precision;

/**
 * Measured per-node sensitivity: for each node of the prepared graph and each reduced precision, the
 * error of the engine's outputs against the all-FP32 engine when only that node computes at that
 * precision (relative L2, largest over outputs; top-1 disagreement for classifier outputs, NaN
 * when the model has none).
 *
 * <p>The error model of a plan is <em>additive</em>: its predicted error is the sum, over nodes, of the
 * node's error at its planned precision (FP32 adds nothing). This is the first-order assumption of
 * mixed-precision search (each rounding perturbs the output by a small, independent amount and
 * the perturbations add at most linearly, by the triangle inequality on first-order terms). It is
 * wrong where errors interact: two reduced nodes in a row compound (second order, small while each
 * is small), errors of opposite sign cancel (then the sum over-predicts), a nonlinearity can amplify
 * a perturbation near a decision boundary (Softmax saturation, arg-max ties), and for top-1 the sum
 * of per-node disagreement rates is a union bound on rows flipped by any one node, blind to flips
 * that only several nodes together cause. The builder therefore checks the built engine on held-out
 * inputs and tightens the model by {@link #scaled} when it under-predicts.
 *
 * @param fingerprint what the measurements were taken of (graph, inputs, precisions), so a cache can be checked
 * @param scale       factor applied to every measured error (1 as measured; above 1 after a tightening)
 */
public record ErrorModel(String fingerprint, Map<String, Map<Precision, NodeError>> nodes, double scale) {
    /** One node's measured error at one precision. */
    public record NodeError(double relL2, double top1Disagreement) {
        public double of(AccuracyBudget.Metric m) { return m == AccuracyBudget.Metric.REL_L2 ? relL2 : top1Disagreement; }
    }

    public ErrorModel {
        Map<String, Map<Precision, NodeError>> copy = new LinkedHashMap<>();
        nodes.forEach((n, m) -> copy.put(n, Collections.unmodifiableMap(new EnumMap<>(m.isEmpty() ? Map.of(Precision.FP32, new NodeError(0, 0)) : m))));
        nodes = Collections.unmodifiableMap(copy);
        if (!(scale > 0) || !Double.isFinite(scale)) throw new IllegalArgumentException("error model scale must be positive and finite, got " + scale);
    }

    /**
     * The error node {@code node} adds at precision {@code p} (scaled): 0 at FP32; NaN when the node or
     * the precision was not measured (the node may then not take that precision under a budget).
     */
    public double error(String node, Precision p, AccuracyBudget.Metric m) {
        if (p == Precision.FP32) return 0;
        Map<Precision, NodeError> byP = nodes.get(node);
        if (byP == null) return Double.NaN;
        NodeError e = byP.get(p);
        return e == null ? Double.NaN : e.of(m) * scale;
    }

    /** Whether the model holds any entry for this node. */
    public boolean has(String node) { return nodes.containsKey(node); }

    /** This model with every error multiplied by {@code factor} more. */
    public ErrorModel scaled(double factor) { return new ErrorModel(fingerprint, nodes, scale * factor); }
}

package org.tessel.search;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.TensorType;
import org.tessel.ir.Node;
import org.tessel.search.domain.Choice;
import org.tessel.tactics.Tuner;

/**
 * Prices like another {@link Costing}, with the {@code topK} best-predicted supported tactics of each node under each
 * (precision, layout) measured by a {@link Tuner} and priced by the measurement (the others keep their prediction):
 * "measure, then solve". Identical nodes (same {@link MeasuredCosts#key}) are measured once. What was measured is kept
 * in {@link #measured()}, so a caller can save it.
 */
public final class TunedCosting implements Costing {
    private final Costing base;
    private final Tuner tuner;
    private final int topK;
    private final MeasuredCosts measured = new MeasuredCosts();
    /** Every (node key, tactic, precision, layout) asked, with its answer (NaN: the tuner could not measure it; negative infinity: the tactic failed). */
    private final Map<MeasuredCosts.Key, Double> asked = new HashMap<>();
    private int timed, unmeasurable, overridden;
    /** Why each failed (node key, tactic, precision, layout) failed ("failed on DEVICE: reason"), and one line per failure naming the node too. */
    private final Map<MeasuredCosts.Key, String> failedWhy = new HashMap<>();
    private final List<String> failures = new ArrayList<>();

    public TunedCosting(Costing base, Tuner tuner, int topK) {
        if (topK < 1) throw new IllegalArgumentException("top-k must be at least 1, got " + topK);
        this.base = base;
        this.tuner = tuner;
        this.topK = topK;
    }

    @Override public List<Choice> choices(Node n, int index, List<Layout> layouts) {
        List<Choice> priced = base.choices(n, index, layouts);
        // the k best predictions under each (precision, layout) are measured (past any that fail)
        Map<String, List<Choice>> byFormat = new LinkedHashMap<>();
        // a choice of a priced variant keeps its prediction: the tuner times the tactic, whose builder runs its own default form
        for (Choice c : priced) if (c.supported() && c.variant().isEmpty()) byFormat.computeIfAbsent(c.precision() + "/" + c.layout(), k -> new ArrayList<>()).add(c);
        Map<Choice, Double> times = new HashMap<>();
        String key = MeasuredCosts.key(n);
        for (List<Choice> cs : byFormat.values()) {
            cs.sort(Comparator.comparingLong(Choice::latencyPs));
            int answered = 0; // a failed tactic does not count: the next one in line is measured in its place
            for (Choice c : cs) {
                if (answered >= topK) break;
                MeasuredCosts.Key k = new MeasuredCosts.Key(key, c.tacticId(), c.precision(), c.layout());
                Double us = asked.get(k);
                if (us == null) {
                    Tuner.Timing t;
                    try {
                        t = tuner.time(n, c.tacticId(), c.precision(), c.layout());
                    } catch (IllegalArgumentException e) {
                        throw new IllegalStateException(tuner.describe() + " on " + c.tacticId() + " for " + n.describe() + ": " + e.getMessage(), e);
                    }
                    switch (t) {
                        case Tuner.Timing.Measured m -> {
                            us = m.us();
                            timed++;
                            measured.put(n, c.tacticId(), c.precision(), c.layout(), us);
                        }
                        case Tuner.Timing.NotMeasured _ -> {
                            us = Double.NaN;
                            unmeasurable++;
                        }
                        case Tuner.Timing.Failed f -> {
                            us = Double.NEGATIVE_INFINITY;
                            String why = "failed on " + tuner.describe() + ": " + f.reason();
                            failedWhy.put(k, why);
                            failures.add(n.describe() + ": " + c.tacticId() + " " + c.precision().text() + "/" + c.layout().text() + " " + why);
                        }
                    }
                    asked.put(k, us);
                }
                if (!Double.isNaN(us)) times.put(c, us);
                if (us != Double.NEGATIVE_INFINITY) answered++;
            }
        }
        List<Choice> out = new ArrayList<>(priced.size());
        for (Choice c : priced) {
            Double us = times.get(c);
            if (us == null) { out.add(c); continue; }
            if (us == Double.NEGATIVE_INFINITY) {
                out.add(new Choice(c.node(), c.tacticId(), c.precision(), c.layout(), c.latencyPs(), c.computeUs(), c.memoryUs(), c.launchUs(), c.workspaceBytes(),
                        failedWhy.get(new MeasuredCosts.Key(key, c.tacticId(), c.precision(), c.layout()))));
                continue;
            }
            overridden++;
            out.add(new Choice(c.node(), c.tacticId(), c.precision(), c.layout(), Costing.ps(us), us, 0, 0, c.workspaceBytes(), null));
        }
        return out;
    }

    /** A choice priced by a measurement: that time (a priced variant keeps its prediction, as {@link #choices} does). */
    @Override public OptionalDouble measuredUs(Node n, Choice c) {
        return c.supported() && c.variant().isEmpty() ? measured.get(n, c.tacticId(), c.precision(), c.layout()) : OptionalDouble.empty();
    }

    /** The cost model's time, even where a measurement prices the choice. */
    @Override public double predictedUs(Node n, Choice c) { return base.predictedUs(n, c); }

    /** The measurements taken (node key, tactic, precision, layout to microseconds). */
    public MeasuredCosts measured() { return measured; }

    /** Distinct (node, tactic, precision, layout) the tuner measured. */
    public int timed() { return timed; }

    /** Distinct ones the tuner could not measure (they keep the prediction). */
    public int unmeasurable() { return unmeasurable; }

    /**
     * The choices dropped because their tactic failed when measured (it did not build or launch, or wrote NaN or infinity
     * where the reference does not), one line each naming node, tactic, format and reason: the nodes fell back to other tactics.
     */
    public List<String> failures() { return List.copyOf(failures); }

    /** Choices priced by a measurement. */
    public int choicesOverridden() { return overridden; }

    /** Measured reformat times by tensor type (NaN: the tuner does not measure this one). */
    private final Map<TensorType, Double> reformats = new HashMap<>();
    private int reformatsTimed;

    /** A layout change is measured where the tuner can (once per tensor type), else priced by the base costing. */
    @Override public String whyNoChoice(Node n, String tacticId) { return base.whyNoChoice(n, tacticId); }

    @Override public String variantWhyNot(Node n, String tacticId, String variant, org.tessel.cost.Precision p) { return base.variantWhyNot(n, tacticId, variant, p); }

    @Override public double reformatUs(TensorType t) {
        Double us = reformats.computeIfAbsent(t, k -> {
            OptionalDouble m = tuner.reformatUs(k);
            if (m.isEmpty()) return Double.NaN;
            double v = m.getAsDouble();
            if (!(v > 0 && v < Double.POSITIVE_INFINITY)) throw new IllegalStateException(tuner.describe() + " measured " + v + " us for a reformat of " + k);
            reformatsTimed++;
            return v;
        });
        return Double.isNaN(us) ? base.reformatUs(t) : us;
    }

    /** Distinct tensor types whose layout change the tuner measured. */
    public int reformatsTimed() { return reformatsTimed; }

    /** Measured cast times by tensor type and target type (NaN: the tuner does not measure this one). */
    private final Map<String, Double> casts = new HashMap<>();
    private int castsTimed;

    /** A cast between element types is measured where the tuner can (once per tensor type and target), else priced by the base costing. */
    @Override public double castUs(TensorType t, DType to) {
        Double us = casts.computeIfAbsent(t + "->" + to.text(), k -> {
            OptionalDouble m = tuner.castUs(t, to);
            if (m.isEmpty()) return Double.NaN;
            double v = m.getAsDouble();
            if (!(v > 0 && v < Double.POSITIVE_INFINITY)) throw new IllegalStateException(tuner.describe() + " measured " + v + " us for a cast of " + t + " to " + to.text());
            castsTimed++;
            return v;
        });
        return Double.isNaN(us) ? base.castUs(t, to) : us;
    }

    /** Distinct casts (tensor type, target type) the tuner measured. */
    public int castsTimed() { return castsTimed; }

    @Override public String describe() { return base.describe() + ", the best " + topK + " per node and format measured by " + tuner.describe(); }
}

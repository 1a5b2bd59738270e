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
    /** Every (node key, tactic, precision, layout) asked, with its answer (NaN: the tuner could not measure it). */
    private final Map<MeasuredCosts.Key, Double> asked = new HashMap<>();
    private int timed, unmeasurable, overridden;

    public TunedCosting(Costing base, Tuner tuner, int topK) {
        if (topK < 1) throw new IllegalArgumentException("top-k must be at least 1, got " + topK);
        this.base = base;
        this.tuner = tuner;
        this.topK = topK;
    }

    @Override public List<Choice> choices(Node n, int index, List<Layout> layouts) {
        List<Choice> priced = base.choices(n, index, layouts);
        // the k best predictions under each (precision, layout) are measured
        Map<String, List<Choice>> byFormat = new LinkedHashMap<>();
        for (Choice c : priced) if (c.supported()) byFormat.computeIfAbsent(c.precision() + "/" + c.layout(), k -> new ArrayList<>()).add(c);
        Map<Choice, Double> times = new HashMap<>();
        String key = MeasuredCosts.key(n);
        for (List<Choice> cs : byFormat.values()) {
            cs.sort(Comparator.comparingLong(Choice::latencyPs));
            for (Choice c : cs.subList(0, Math.min(topK, cs.size()))) {
                MeasuredCosts.Key k = new MeasuredCosts.Key(key, c.tacticId(), c.precision(), c.layout());
                Double us = asked.get(k);
                if (us == null) {
                    OptionalDouble m = tuner.timeUs(n, c.tacticId(), c.precision(), c.layout());
                    us = m.isPresent() ? m.getAsDouble() : Double.NaN;
                    if (m.isPresent() && !(us > 0 && us < Double.POSITIVE_INFINITY))
                        throw new IllegalStateException(tuner.describe() + " measured " + us + " us for " + c.tacticId() + " on " + n.describe());
                    asked.put(k, us);
                    if (m.isPresent()) { timed++; measured.put(n, c.tacticId(), c.precision(), c.layout(), us); }
                    else unmeasurable++;
                }
                if (!Double.isNaN(us)) times.put(c, us);
            }
        }
        List<Choice> out = new ArrayList<>(priced.size());
        for (Choice c : priced) {
            Double us = times.get(c);
            if (us == null) { out.add(c); continue; }
            overridden++;
            out.add(new Choice(c.node(), c.tacticId(), c.precision(), c.layout(), Costing.ps(us), us, 0, 0, c.workspaceBytes(), null));
        }
        return out;
    }

    /** The measurements taken (node key, tactic, precision, layout to microseconds). */
    public MeasuredCosts measured() { return measured; }

    /** Distinct (node, tactic, precision, layout) the tuner measured. */
    public int timed() { return timed; }

    /** Distinct ones the tuner could not measure (they keep the prediction). */
    public int unmeasurable() { return unmeasurable; }

    /** Choices priced by a measurement. */
    public int choicesOverridden() { return overridden; }

    /** Measured reformat times by tensor type (NaN: the tuner does not measure this one). */
    private final Map<TensorType, Double> reformats = new HashMap<>();
    private int reformatsTimed;

    /** A layout change is measured where the tuner can (once per tensor type), else priced by the base costing. */
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

    @Override public double castUs(TensorType t, DType to) { return base.castUs(t, to); }

    @Override public String describe() { return base.describe() + ", the best " + topK + " per node and format measured by " + tuner.describe(); }
}

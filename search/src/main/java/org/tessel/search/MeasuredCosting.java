package org.tessel.search;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalDouble;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.TensorType;
import org.tessel.ir.Node;
import org.tessel.search.domain.Choice;

/**
 * Prices like another {@link Costing}, except that a supported choice with a measured time
 * ({@link MeasuredCosts}: node, tactic, precision, layout) takes the measurement instead of the
 * prediction (reported as compute time; memory and launch terms zero, since a measurement
 * contains them). Counts which measurements were used.
 */
public final class MeasuredCosting implements Costing {
    private final Costing base;
    private final MeasuredCosts measured;
    private final Set<MeasuredCosts.Key> used = new HashSet<>();
    private int overridden;

    public MeasuredCosting(Costing base, MeasuredCosts measured) {
        this.base = base;
        this.measured = measured;
    }

    @Override public List<Choice> choices(Node n, int index, List<Layout> layouts) {
        List<Choice> out = new ArrayList<>();
        for (Choice c : base.choices(n, index, layouts)) {
            OptionalDouble m = measuredUs(n, c);
            if (m.isEmpty()) { out.add(c); continue; }
            used.add(new MeasuredCosts.Key(MeasuredCosts.key(n), c.tacticId(), c.precision(), c.layout()));
            overridden++;
            out.add(new Choice(c.node(), c.tacticId(), c.precision(), c.layout(), Costing.ps(m.getAsDouble()), m.getAsDouble(), 0, 0, c.workspaceBytes(), null));
        }
        return out;
    }

    @Override public String whyNoChoice(Node n, String tacticId) { return base.whyNoChoice(n, tacticId); }

    @Override public String variantWhyNot(Node n, String tacticId, String variant, org.tessel.cost.Precision p) { return base.variantWhyNot(n, tacticId, variant, p); }

    /** A choice of a priced variant keeps its prediction: a measurement names the tactic, whose builder runs its own default form. */
    @Override public OptionalDouble measuredUs(Node n, Choice c) {
        return c.supported() && c.variant().isEmpty() ? measured.get(n, c.tacticId(), c.precision(), c.layout()) : OptionalDouble.empty();
    }

    @Override public double predictedUs(Node n, Choice c) { return base.predictedUs(n, c); }

    /** Distinct measurements that priced at least one choice. */
    public int measurementsUsed() { return used.size(); }

    /** Choices priced by a measurement (a measurement may price a node and a fusion candidate alike). */
    public int choicesOverridden() { return overridden; }

    @Override public double reformatUs(TensorType t) { return base.reformatUs(t); }

    @Override public double castUs(TensorType t, DType to) { return base.castUs(t, to); }

    @Override public String describe() { return base.describe() + ", measured times where the timing cache has them (" + measured.size() + ")"; }
}

package org.tessel.search.accuracy;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tessel.cost.Precision;
import org.tessel.search.Assignment;
import org.tessel.search.SearchProblem;
import org.tessel.search.domain.Choice;

/**
 * An accuracy budget as the search sees it: per node and precision the error the node adds, in
 * integer units of {@link #UNIT} (rounded up, so a measured error is never priced as none), and the
 * budget in the same units. A plan's predicted error is the sum over nodes at their chosen
 * precisions ({@link ErrorModel} says why a sum and where that is wrong); the hard rule
 * {@link org.tessel.search.Rules#ACCURACY_WITHIN_BUDGET} penalizes its excess over the budget.
 * A precision the model has no measurement for, or one measured as unbounded (an overflow to infinity),
 * costs {@link #UNMEASURED}, more than any budget.
 */
public final class AccuracyConstraint {
    /** One unit of error: 1e-6 (of relative L2, or of the fraction of disagreeing rows). */
    public static final double UNIT = 1e-6;
    /** Units of a node at a precision that was not measured: over every budget, so never chosen under one. */
    public static final long UNMEASURED = 1_000_000_000_000L;

    private final AccuracyBudget budget;
    private final ErrorModel model;
    private final long[][] units;
    private final long budgetUnits;

    public AccuracyConstraint(SearchProblem p, ErrorModel model, AccuracyBudget budget) {
        this.budget = budget;
        this.model = model;
        this.units = new long[p.size()][Precision.values().length];
        this.budgetUnits = (long) Math.floor(budget.allowedError() / UNIT + 1e-6);
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < p.size(); i++) {
            SearchProblem.Node n = p.node(i);
            boolean reduced = n.searchChoices().stream().anyMatch(c -> c.precision() != Precision.FP32);
            if (reduced && !model.has(n.name())) missing.add(n.name());
            for (Precision q : Precision.values()) {
                double e = model.error(n.name(), q, budget.metric());
                units[i][q.ordinal()] = Double.isNaN(e) ? UNMEASURED : e <= 0 ? 0 : (long) Math.min(UNMEASURED, Math.ceil(e / UNIT - 1e-6));
            }
        }
        if (!missing.isEmpty())
            throw new IllegalArgumentException("the error model (" + model.fingerprint() + ") has no measurement for node" + (missing.size() > 1 ? "s " : " ")
                    + String.join(", ", missing.stream().limit(5).map(s -> "'" + s + "'").toList()) + (missing.size() > 5 ? " and " + (missing.size() - 5) + " more" : "")
                    + " of '" + p.name() + "': it was measured on another graph; measure it again");
        if (budget.metric() == AccuracyBudget.Metric.TOP1 && model.nodes().values().stream().flatMap(m -> m.values().stream()).anyMatch(e -> Double.isNaN(e.top1Disagreement())))
            throw new IllegalArgumentException("accuracy budget " + budget.text() + ": '" + p.name() + "' has no classifier output (shape [N, classes]) to take top-1 of; use rel_l2=...");
        long least = 0;
        List<String> forced = new ArrayList<>();
        for (int i = 0; i < p.size(); i++) {
            long min = Long.MAX_VALUE;
            for (Choice c : p.node(i).searchChoices()) min = Math.min(min, units[i][c.precision().ordinal()]);
            if (min > 0) forced.add(p.node(i).name() + (min >= UNMEASURED ? " (unmeasured)" : String.format(Locale.ROOT, " (%.3g)", min * UNIT)));
            least = Math.min(UNMEASURED, least + min);
        }
        if (least > budgetUnits)
            throw new UnreachableBudgetException(String.format(Locale.ROOT, "accuracy budget %s cannot be met on '%s': the most precise plan the constraints allow is predicted at error %s "
                    + "(allowed %s); node%s that cannot compute in an error-free precision: %s", budget.text(), p.name(), least >= UNMEASURED ? "unbounded" : String.format(Locale.ROOT, "%.3g", least * UNIT),
                    AccuracyBudget.num(budget.allowedError()), forced.size() > 1 ? "s" : "", String.join(", ", forced.stream().limit(8).toList()) + (forced.size() > 8 ? " and " + (forced.size() - 8) + " more" : "")));
    }

    public AccuracyBudget budget() { return budget; }

    public ErrorModel model() { return model; }

    /** The budget in units. */
    public long budgetUnits() { return budgetUnits; }

    /** Units node {@code node} adds at precision {@code q}. */
    public long units(int node, Precision q) { return units[node][q.ordinal()]; }

    /** The per-precision units of one node (indexed by {@link Precision#ordinal()}), a copy. */
    public long[] unitsOf(int node) { return units[node].clone(); }

    /** The plan's predicted error in units: the sum over nodes at their chosen precisions. */
    public long errorUnits(Assignment a) {
        long s = 0;
        for (int i = 0; i < units.length; i++) s += units[i][a.choice(i).precision().ordinal()];
        return s;
    }

    /** The plan's predicted error in the budget's error form (relative L2, or the disagreeing fraction for top-1). */
    public double predictedError(Assignment a) { return errorUnits(a) * UNIT; }

    /** Units over the budget (0 when kept). */
    public long excess(Assignment a) { return Math.max(0, errorUnits(a) - budgetUnits); }

    /** One line for reports: predicted error against the budget, in the budget's terms. */
    public String describe(Assignment a) {
        double e = predictedError(a);
        return budget.metric() == AccuracyBudget.Metric.REL_L2
                ? String.format(Locale.ROOT, "predicted rel_l2 %s (budget %s)", g3(e), AccuracyBudget.num(budget.value()))
                : String.format(Locale.ROOT, "predicted top1 %.4f (budget %s; %s of rows may disagree)", 1 - e, AccuracyBudget.num(budget.value()), g3(e));
    }

    private static String g3(double v) {
        return v == 0 ? "0" : String.format(Locale.ROOT, "%.3g", v);
    }
}

package org.tessel.accuracy;

import java.util.Locale;
import java.util.function.Consumer;
import org.tessel.search.Plan;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.search.accuracy.AccuracyBudget;
import org.tessel.search.accuracy.ErrorModel;
import org.tessel.tactics.plan.PlanApplier;

/**
 * A search under an accuracy budget whose result is checked: the plan is solved with the error
 * model, its engine built (a CPU engine executing the plan) and its error measured on held-out
 * inputs against the FP32 engine. When the measured error breaks the budget the error model
 * under-predicted, so it is scaled by measured / predicted (with a 10% margin, at least 1.25x) and
 * the plan solved again, saying so; when the plan was predicted error-free but measured over the
 * budget, the budget the search uses is halved instead. After {@code rounds} solves still over, the
 * search fails with the figures.
 */
public final class BudgetedSearch {
    private BudgetedSearch() {}

    /** The checked result: the final problem (its accuracy constraint holds the model as tightened), plan, predicted and measured error. */
    public record Result(SearchProblem problem, Plan plan, PlanApplier.Applied applied, double predicted, ErrorModel.NodeError measured,
                         double measuredError, int rounds, ErrorModel model, AccuracyBudget searched) {}

    /** The error model's budget was not met on held-out inputs after every round. */
    public static final class BudgetNotMetException extends IllegalStateException {
        BudgetNotMetException(String m) { super(m); }
    }

    public static Result solve(SearchProblem base, String strategy, SearchOptions o, ErrorModel model, AccuracyBudget budget,
                               AccuracyInputs heldOut, int rounds, Consumer<String> log) {
        return solve(base, strategy, o, model, budget, heldOut, null, rounds, log);
    }

    /**
     * As above, with INT8: each plan's INT8 nodes carry these calibrated scales (the quantization table
     * the built engine will carry) in the engine that is checked, and in the result's applied plan.
     */
    public static Result solve(SearchProblem base, String strategy, SearchOptions o, ErrorModel model, AccuracyBudget budget,
                               AccuracyInputs heldOut, CalibratedScales scales, int rounds, Consumer<String> log) {
        if (rounds < 1) throw new IllegalArgumentException("at least one accuracy round is needed, got " + rounds);
        ErrorMeter meter = new ErrorMeter(Sensitivity.applied(base, Sensitivity.fp32(base), "fp32"), heldOut);
        if (budget.metric() == AccuracyBudget.Metric.TOP1 && !meter.hasClassifier())
            throw new IllegalArgumentException("accuracy budget " + budget.text() + ": '" + base.name() + "' has no classifier output (shape [N, classes]) to take top-1 of; use rel_l2=...");
        if (budget.metric() == AccuracyBudget.Metric.TOP1) {
            // the rule of three: with no disagreement among n rows, the disagreement rate is below 3/n at 95% confidence
            long n = meter.classifierRows();
            double allowed = budget.allowedError();
            if (n > 0 && 3.0 / n > allowed)
                log.accept(String.format(Locale.ROOT, "note: the held-out check compares %d top-1 decisions; even with none differing that bounds disagreement only to %.2g "
                        + "(95%% confidence), above this budget's %.2g: the check cannot certify %s; give at least %d rows (--accuracy-check-inputs)",
                        n, 3.0 / n, allowed, budget.text(), (long) Math.ceil(3.0 / allowed)));
        }
        ErrorModel m = model;
        AccuracyBudget searched = budget;
        for (int round = 1; ; round++) {
            SearchProblem p = base.withAccuracy(m, searched);
            Plan plan = Searcher.run(p, strategy, o);
            if (!plan.feasible()) throw new IllegalStateException(strategy + ": no feasible plan under " + searched.text() + " (" + plan.evaluation().byRule() + "; " + plan.note() + ")");
            double predicted = p.accuracy().predictedError(plan.assignment());
            PlanApplier.Applied applied = org.tessel.search.EnginePlans.complete(p, plan);
            if (scales != null) applied = scales.quantize(applied);
            ErrorModel.NodeError measured = meter.measure(applied);
            double error = measured.of(budget.metric());
            boolean kept = budget.kept(error);
            log.accept(String.format(Locale.ROOT, "accuracy check, round %d of %d: predicted %s, measured %s on %s; budget %s: %s", round, rounds,
                    show(budget, predicted), show(budget, error), heldOut.description(), budget.text(), kept ? "kept" : "OVER"));
            if (kept) return new Result(p, plan, applied, predicted, measured, error, round, m, searched);
            if (round >= rounds)
                throw new BudgetNotMetException(String.format(Locale.ROOT, "accuracy budget %s not met after %d round%s: the last plan (%s) was predicted at %s and measured at %s on %s; "
                        + "loosen the budget, allow fewer reduced precisions (--precisions) or pin sensitive nodes (--precision 'NODE=fp32')",
                        budget.text(), rounds, rounds > 1 ? "s" : "", strategy, show(budget, predicted), show(budget, error), heldOut.description()));
            if (predicted > 0) {
                // an unbounded measurement (an output overflowed) says only "much more": scale by the cap
                double factor = Double.isFinite(error) ? Math.min(MAX_FACTOR, Math.max(1.25, error / predicted * 1.1)) : MAX_FACTOR;
                m = m.scaled(factor);
                log.accept(String.format(Locale.ROOT, "tightening: the error model under-predicted (measured/predicted %.2f); scaling it by %.2f and solving again (round %d of %d)",
                        error / predicted, factor, round + 1, rounds));
            } else {
                searched = new AccuracyBudget(budget.metric(), budget.metric() == AccuracyBudget.Metric.REL_L2 ? searched.value() / 2 : 1 - searched.allowedError() / 2);
                log.accept(String.format(Locale.ROOT, "tightening: the plan was predicted error-free but measured over the budget; searching under %s and solving again (round %d of %d)",
                        searched.text(), round + 1, rounds));
            }
        }
    }

    /** The most one tightening scales the model by. */
    static final double MAX_FACTOR = 1000;

    /** An error in the budget's terms: relative L2, or top-1 agreement. */
    public static String show(AccuracyBudget b, double error) {
        return b.metric() == AccuracyBudget.Metric.REL_L2 ? "rel_l2 " + (error == 0 ? "0" : String.format(Locale.ROOT, "%.3g", error)) : String.format(Locale.ROOT, "top1 %.4f", 1 - error);
    }
}

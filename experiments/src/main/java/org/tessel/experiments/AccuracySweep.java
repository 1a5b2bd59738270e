package org.tessel.experiments;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.tessel.accuracy.AccuracyInputs;
import org.tessel.accuracy.BudgetedSearch;
import org.tessel.accuracy.Sensitivity;
import org.tessel.accuracy.SensitivityCache;
import org.tessel.ir.io.AtomicFiles;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.search.accuracy.AccuracyBudget;
import org.tessel.search.accuracy.ErrorModel;

/**
 * The latency/accuracy trade-off of a config's {@code accuracy_budgets}: per model, target and
 * strategy, each budget solved as `tessel build --accuracy-budget` solves it (measured sensitivity,
 * summed error as a hard constraint, the plan's engine checked on held-out inputs and the model
 * tightened when it under-predicts) with the experiment's search options (first seed and time limit), giving predicted latency, predicted and measured error. A point
 * is on the Pareto front when no other point of its model, target and strategy is at least as fast
 * and at least as accurate (measured) and better in one. Written as {@code pareto.csv}.
 */
public final class AccuracySweep {
    private AccuracySweep() {}

    /** One budget's outcome; {@code error} non-null when no plan kept the budget. */
    public record Point(String model, String target, String strategy, String budget, double predictedMs, double predictedError,
                        double measuredError, int rounds, boolean onFront, String error) {
        Point withFront(boolean f) { return new Point(model, target, strategy, budget, predictedMs, predictedError, measuredError, rounds, f, error); }

        /** Model, target and strategy: the series a front is drawn over. */
        public String series() { return model + " " + strategy + " @" + target; }
    }

    /** Rounds a sweep point may take to keep its budget (as `tessel build`'s default). */
    static final int ROUNDS = 3;

    /** @param options the search options of a target (the experiment's: knobs, precision rules, forced choices, selectors) */
    public static List<Point> run(ExperimentConfig c, java.util.function.Function<String, SearchOptions> options, SensitivityCache cache, PrintStream log) throws IOException {
        List<Point> out = new ArrayList<>();
        long seed = c.seeds().getFirst();
        for (String target : c.targets())
            for (String model : c.models()) {
                SearchOptions o = options.apply(target).withSeed(seed).withTimeLimit(java.time.Duration.ofMillis(Math.round(c.timeLimits().getFirst() * 1000)));
                SearchProblem p = Searcher.problem(Searcher.prepare(Zoo.build(model, c.batch() == null ? ZooOptions.defaults() : ZooOptions.defaults().withBatch(c.batch()))), o);
                AccuracyInputs in = AccuracyInputs.generated(p.prepared(), 0, c.accuracySamplesOrDefault());
                AccuracyInputs heldOut = AccuracyInputs.generated(p.prepared(), 1000, c.accuracySamplesOrDefault());
                String fp = Sensitivity.fingerprint(p, o.precisions(), in);
                Optional<ErrorModel> cached = cache.read(p.name(), fp);
                ErrorModel em;
                if (cached.isPresent()) {
                    em = cached.get();
                    log.println("sensitivity of " + model + ": reused " + cache.file(p.name(), fp));
                } else {
                    Sensitivity.Measured m = Sensitivity.measure(p, o.precisions(), in, s -> {});
                    Path f = cache.write(p.name(), m, in.description());
                    em = m.model();
                    log.printf(Locale.ROOT, "sensitivity of %s: measured with %d CPU engines in %.1f s; cached in %s%n", model, m.engines(), m.seconds(), f);
                }
                for (String strategy : c.strategies())
                    for (String spec : c.accuracyBudgets()) {
                        AccuracyBudget b = AccuracyBudget.parse(spec, "accuracy_budgets");
                        Point pt;
                        try {
                            List<String> lines = new ArrayList<>();
                            BudgetedSearch.Result r = BudgetedSearch.solve(p, strategy, o, em, b, heldOut, ROUNDS, lines::add);
                            pt = new Point(model, target, strategy, b.text(), r.plan().predictedMs(), r.predicted(), r.measuredError(), r.rounds(), false, null);
                        } catch (IllegalArgumentException | IllegalStateException e) {
                            pt = new Point(model, target, strategy, b.text(), Double.NaN, Double.NaN, Double.NaN, 0, false, e.getMessage());
                        }
                        out.add(pt);
                        log.printf(Locale.ROOT, "[accuracy] %s %s %s %s: %s%n", model, target, strategy, b.text(), pt.error() != null ? "failed: " + pt.error()
                                : String.format(Locale.ROOT, "%.4f ms, predicted %s, measured %s (%d round%s)", pt.predictedMs(), BudgetedSearch.show(b, pt.predictedError()),
                                        BudgetedSearch.show(b, pt.measuredError()), pt.rounds(), pt.rounds() > 1 ? "s" : ""));
                    }
            }
        return front(out);
    }

    /** Marks each point that no other point of its series dominates (faster or equal and at most as erring, one strictly). */
    static List<Point> front(List<Point> pts) {
        List<Point> out = new ArrayList<>();
        for (Point a : pts) {
            boolean dominated = a.error() != null;
            for (Point b : pts) {
                if (dominated) break;
                if (b == a || b.error() != null || !b.series().equals(a.series())) continue;
                boolean noWorse = b.predictedMs() <= a.predictedMs() && b.measuredError() <= a.measuredError();
                boolean better = b.predictedMs() < a.predictedMs() || b.measuredError() < a.measuredError();
                dominated = noWorse && better;
            }
            out.add(a.withFront(!dominated));
        }
        return out;
    }

    public static void write(List<Point> pts, Path dir) throws IOException {
        StringBuilder csv = new StringBuilder("model,target,strategy,budget,predicted_ms,predicted_error,measured_error,rounds,on_front,error\n");
        for (Point p : pts)
            csv.append(String.join(",", p.model(), p.target(), p.strategy(), p.budget(), num(p.predictedMs()), num(p.predictedError()), num(p.measuredError()),
                    String.valueOf(p.rounds()), String.valueOf(p.onFront()), p.error() == null ? "" : '"' + p.error().replace("\"", "'") + '"')).append('\n');
        AtomicFiles.writeString(dir.resolve("pareto.csv"), csv);
    }

    private static String num(double d) { return Double.isNaN(d) ? "" : String.format(Locale.ROOT, "%.6g", d); }
}

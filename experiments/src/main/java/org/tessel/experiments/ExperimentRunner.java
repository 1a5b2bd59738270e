package org.tessel.experiments;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import org.tessel.ir.io.AtomicFiles;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.Plan;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;

/**
 * Runs an {@link ExperimentConfig}'s matrix and writes {@code results.csv}, {@code results.json}
 * (one row per run) and {@code summary.md} (per model and target: each strategy's best latency,
 * its gap to the bound and to the best plan any strategy found, and its speed-up over greedy and
 * sequential). A run that fails (the exact solver refusing a wide graph) becomes a row with its
 * error instead of stopping the matrix.
 */
public final class ExperimentRunner {
    /** One run's outcome. {@code gapToBestPct} is against the best plan any strategy found for that model and target. */
    public record Row(String model, String strategy, String target, double timeLimitS, long seed, int nodes, int candidates,
                      double predictedMs, double boundMs, double gapPct, double gapToBestPct, double solveS, long moves,
                      double movesPerS, int fusedGroups, boolean feasible, boolean provenOptimal, boolean stoppedByTime, String error,
                      double measuredMs, String measuredOn) {
        /** A run whose plan was not built and timed. */
        public Row(String model, String strategy, String target, double timeLimitS, long seed, int nodes, int candidates,
                   double predictedMs, double boundMs, double gapPct, double gapToBestPct, double solveS, long moves,
                   double movesPerS, int fusedGroups, boolean feasible, boolean provenOptimal, boolean stoppedByTime, String error) {
            this(model, strategy, target, timeLimitS, seed, nodes, candidates, predictedMs, boundMs, gapPct, gapToBestPct, solveS, moves, movesPerS,
                    fusedGroups, feasible, provenOptimal, stoppedByTime, error, Double.NaN, null);
        }

        Row measured(double ms, String on, String why) {
            return new Row(model, strategy, target, timeLimitS, seed, nodes, candidates, predictedMs, boundMs, gapPct, gapToBestPct, solveS, moves, movesPerS,
                    fusedGroups, feasible, provenOptimal, stoppedByTime, why == null ? error : error == null ? why : error + "; " + why, ms, on);
        }
    }

    /**
     * Builds a run's plan into an engine and times it (experiments that measure, not only predict): the median latency in
     * ms on {@code backend()}, or NaN with {@code error} saying why this plan was not measured.
     */
    public interface Measurer {
        record Measured(double p50Ms, String error) {}

        /** The backend the engines are built for ("cuda (NVIDIA H200)", "cpu"). */
        String backend();

        Measured measure(SearchProblem p, Plan plan);
    }

    private Measurer measurer;

    /** Builds and times every feasible run's plan with {@code m}. */
    public ExperimentRunner withMeasurer(Measurer m) {
        this.measurer = m;
        return this;
    }

    private final ExperimentConfig config;
    private final PrintStream log;

    public ExperimentRunner(ExperimentConfig config, PrintStream log) {
        this.config = config;
        this.log = log;
    }

    private java.util.function.IntConsumer afterRun = i -> {};
    private List<org.tessel.api.select.AlgorithmSelector> selectors = List.of();

    /** Every run's search consults these selectors (the config's {@code selectors}, resolved by the caller), in order. */
    public ExperimentRunner withSelectors(List<org.tessel.api.select.AlgorithmSelector> s) {
        this.selectors = List.copyOf(s);
        return this;
    }

    /** Told the number of runs done after each run (e.g. for a progress bar). */
    public ExperimentRunner withProgress(java.util.function.IntConsumer afterRun) {
        this.afterRun = afterRun;
        return this;
    }

    private Plan lastPlan;

    public List<Row> run() {
        List<Row> rows = new ArrayList<>();
        Map<String, SearchProblem> problems = new HashMap<>();
        int i = 0;
        for (String target : config.targets())
            for (String model : config.models()) {
                SearchOptions base = baseOptions(target);
                SearchProblem p = problems.computeIfAbsent(model + "@" + target, k -> Searcher.problem(Searcher.prepare(Zoo.build(model,
                        config.batch() == null ? ZooOptions.defaults() : ZooOptions.defaults().withBatch(config.batch()))), base));
                for (String strategy : config.strategies())
                    for (double tl : config.timeLimits())
                        for (long seed : config.seeds()) {
                            i++;
                            SearchOptions o = base.withSeed(seed).withTimeLimit(Duration.ofMillis(Math.round(tl * 1000)));
                            Row r;
                            try {
                                Plan plan = Searcher.run(p, strategy, o);
                                lastPlan = plan;
                                r = new Row(model, strategy, target, tl, seed, p.size(), p.candidates().size(), plan.predictedMs(), plan.boundMs(),
                                        plan.gapPct(), Double.NaN, plan.solveSeconds(), plan.evaluatedMoves(), plan.movesPerSecond(), plan.fusedGroups(),
                                        plan.feasible(), plan.provenOptimal(), plan.stoppedByTime(), plan.note().isEmpty() ? null : plan.note());
                            } catch (IllegalArgumentException | IllegalStateException e) {
                                r = new Row(model, strategy, target, tl, seed, p.size(), p.candidates().size(), Double.NaN, Double.NaN, Double.NaN, Double.NaN,
                                        0, 0, 0, 0, false, false, false, e.getMessage());
                            }
                            if (measurer != null && !Double.isNaN(r.predictedMs()) && r.feasible()) {
                                Plan planned = lastPlan;
                                Measurer.Measured m;
                                try {
                                    m = measurer.measure(p, planned);
                                } catch (RuntimeException e) {
                                    m = new Measurer.Measured(Double.NaN, "not measured: " + e.getMessage());
                                }
                                r = r.measured(m.p50Ms(), measurer.backend(), m.error());
                            }
                            rows.add(r);
                            afterRun.accept(i);
                            log.printf(Locale.ROOT, "[%d/%d] %s %s %s t=%.0fs seed=%d: %s%n", i, config.runs(), model, target, strategy, tl, seed,
                                    r.error() != null && Double.isNaN(r.predictedMs()) ? "failed: " + r.error()
                                            : String.format(Locale.ROOT, "%.4f ms (bound %.4f, gap %.2f%%) in %.2f s, %d moves", r.predictedMs(), r.boundMs(), r.gapPct(), r.solveS(), r.moves())
                                            + (r.measuredOn() == null ? "" : Double.isNaN(r.measuredMs()) ? "; " + r.error() : String.format(Locale.ROOT, "; measured %.4f ms on %s", r.measuredMs(), r.measuredOn())));
                        }
            }
        return withGapToBest(rows);
    }

    /** The search options every run on {@code target} shares: the config's knobs, precision rules, forced choices and selectors. */
    public SearchOptions baseOptions(String target) {
        SearchOptions o = SearchOptions.defaults().withTarget(target);
        if (config.moves() != null || config.unimprovedSteps() != null)
            o = o.withSteps(config.unimprovedSteps() != null ? config.unimprovedSteps() : o.unimprovedSteps(), config.moves() != null ? config.moves() : o.maxMoves());
        if (config.randomSamples() != null) o = o.withRandomSamples(config.randomSamples());
        if (config.cudaGraphs() != null) o = o.withCudaGraphs(config.cudaGraphs());
        if (config.params() != null) o = o.withCostParams(org.tessel.cost.CostModel.Params.named(config.params(), "key 'params'"));
        if (config.memoryBudgetMiB() != null) o = o.withMemoryBudget(OptionalLong.of(Math.round(config.memoryBudgetMiB() * 1048576)));
        o = o.withPrecisionRules(config.precisionRules().stream().map(PrecisionRule::parse).toList())
                .withForced(config.forcedChoices().stream().map(org.tessel.search.ForcedChoice::parse).toList());
        return selectors.isEmpty() ? o : o.withSelectors(selectors);
    }

    static List<Row> withGapToBest(List<Row> rows) {
        Map<String, Double> best = new HashMap<>();
        for (Row r : rows) if (r.feasible()) best.merge(r.model() + "@" + r.target(), r.predictedMs(), Math::min);
        List<Row> out = new ArrayList<>();
        for (Row r : rows) {
            Double b = best.get(r.model() + "@" + r.target());
            double gap = b == null || !r.feasible() ? Double.NaN : (r.predictedMs() - b) / b * 100;
            out.add(new Row(r.model(), r.strategy(), r.target(), r.timeLimitS(), r.seed(), r.nodes(), r.candidates(), r.predictedMs(), r.boundMs(),
                    r.gapPct(), gap, r.solveS(), r.moves(), r.movesPerS(), r.fusedGroups(), r.feasible(), r.provenOptimal(), r.stoppedByTime(), r.error(),
                    r.measuredMs(), r.measuredOn()));
        }
        return out;
    }

    /** Writes results.csv, results.json and summary.md into dir (created), each file whole or not at all. */
    public static void write(ExperimentConfig c, List<Row> rows, Path dir) throws IOException {
        StringBuilder csv = new StringBuilder("model,strategy,target,time_limit_s,seed,nodes,candidates,predicted_ms,bound_ms,gap_pct,gap_to_best_pct,solve_s,moves,moves_per_s,fused_groups,feasible,proven_optimal,stopped_by_time,error,measured_ms,measured_on\n");
        for (Row r : rows)
            csv.append(String.join(",", r.model(), r.strategy(), r.target(), num(r.timeLimitS()), String.valueOf(r.seed()), String.valueOf(r.nodes()),
                    String.valueOf(r.candidates()), num(r.predictedMs()), num(r.boundMs()), num(r.gapPct()), num(r.gapToBestPct()), num(r.solveS()),
                    String.valueOf(r.moves()), num(r.movesPerS()), String.valueOf(r.fusedGroups()), String.valueOf(r.feasible()),
                    String.valueOf(r.provenOptimal()), String.valueOf(r.stoppedByTime()), r.error() == null ? "" : '"' + r.error().replace("\"", "'") + '"',
                    num(r.measuredMs()), r.measuredOn() == null ? "" : '"' + r.measuredOn().replace("\"", "'") + '"')).append('\n');
        AtomicFiles.writeString(dir.resolve("results.csv"), csv);
        List<Map<String, Object>> json = new ArrayList<>();
        for (Row r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", r.model()); m.put("strategy", r.strategy()); m.put("target", r.target()); m.put("time_limit_s", r.timeLimitS());
            m.put("seed", r.seed()); m.put("nodes", r.nodes()); m.put("candidates", r.candidates()); m.put("predicted_ms", nan(r.predictedMs()));
            m.put("bound_ms", nan(r.boundMs())); m.put("gap_pct", nan(r.gapPct())); m.put("gap_to_best_pct", nan(r.gapToBestPct()));
            m.put("solve_s", r.solveS()); m.put("moves", r.moves()); m.put("moves_per_s", r.movesPerS()); m.put("fused_groups", r.fusedGroups());
            m.put("feasible", r.feasible()); m.put("proven_optimal", r.provenOptimal()); m.put("stopped_by_time", r.stoppedByTime()); m.put("error", r.error());
            m.put("measured_ms", nan(r.measuredMs())); m.put("measured_on", r.measuredOn());
            json.add(m);
        }
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("experiment", c.name());
        doc.put("runs", json);
        AtomicFiles.writeString(dir.resolve("results.json"), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(doc));
        AtomicFiles.writeString(dir.resolve("summary.md"), summary(c, rows));
    }

    private static Object nan(double d) { return Double.isNaN(d) ? null : d; }

    private static String num(double d) { return Double.isNaN(d) ? "" : String.format(Locale.ROOT, "%.6g", d); }

    /** Per model and target, per strategy: best predicted latency over seeds and limits, gaps, speed-ups, time. */
    static String summary(ExperimentConfig c, List<Row> rows) {
        StringBuilder sb = new StringBuilder("# Experiment " + c.name() + "\n\n");
        sb.append(String.format(Locale.ROOT, "%d runs: %s x %s x time limits %s x seeds %s x targets %s.%n%n", rows.size(), c.models(), c.strategies(),
                c.timeLimits(), c.seeds(), c.targets()));
        sb.append("| model | target | strategy | best predicted ms | bound ms | gap to bound | gap to best | vs greedy | vs sequential | mean solve s | moves/s |\n");
        sb.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        Map<String, Map<String, List<Row>>> groups = new LinkedHashMap<>();
        for (Row r : rows) groups.computeIfAbsent(r.model() + " | " + r.target(), k -> new LinkedHashMap<>()).computeIfAbsent(r.strategy(), k -> new ArrayList<>()).add(r);
        for (var g : groups.entrySet()) {
            Double greedy = bestOf(g.getValue().get("greedy")), seq = bestOf(g.getValue().get("sequential"));
            for (var s : g.getValue().entrySet()) {
                Double best = bestOf(s.getValue());
                Row any = s.getValue().get(0);
                if (best == null) {
                    sb.append("| ").append(g.getKey()).append(" | ").append(s.getKey()).append(" | failed: ").append(any.error()).append(" | | | | | | | |\n");
                    continue;
                }
                double solve = s.getValue().stream().mapToDouble(Row::solveS).average().orElse(0);
                double mps = s.getValue().stream().mapToDouble(Row::movesPerS).average().orElse(0);
                double gapBest = s.getValue().stream().filter(Row::feasible).mapToDouble(Row::gapToBestPct).min().orElse(Double.NaN);
                sb.append(String.format(Locale.ROOT, "| %s | %s | %.4f | %.4f | %.2f%% | %.2f%% | %s | %s | %.2f | %.0f |%n", g.getKey(), s.getKey(), best, any.boundMs(),
                        (best - any.boundMs()) / any.boundMs() * 100, gapBest, ratio(greedy, best), ratio(seq, best), solve, mps));
            }
        }
        if (rows.stream().anyMatch(r -> r.measuredOn() != null)) {
            sb.append("\n## Measured\n\n");
            if (rows.stream().anyMatch(r -> "cpu".equals(r.measuredOn())))
                sb.append("Measured on the CPU backend, which executes each plan by emulation: these times compare plans as CPU engines, not the GPU engines the plans are priced for.\n\n");
            sb.append("| model | target | strategy | measured on | best measured ms | its predicted ms | predicted / measured | vs sequential (measured) |\n");
            sb.append("|---|---|---|---|---:|---:|---:|---:|\n");
            for (var g : groups.entrySet()) {
                Row seqBest = fastestMeasured(g.getValue().get("sequential"));
                for (var st : g.getValue().entrySet()) {
                    Row m = fastestMeasured(st.getValue());
                    if (m == null) {
                        Row any = st.getValue().get(0);
                        sb.append("| ").append(g.getKey()).append(" | ").append(st.getKey()).append(" | ").append(any.measuredOn() == null ? "-" : any.measuredOn())
                                .append(" | not measured: ").append(any.error() == null ? "no feasible plan" : any.error()).append(" | | | |\n");
                        continue;
                    }
                    sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %.4f | %.4f | %.2f | %s |%n", g.getKey(), st.getKey(), m.measuredOn(), m.measuredMs(), m.predictedMs(),
                            m.predictedMs() / m.measuredMs(), seqBest == null ? "" : String.format(Locale.ROOT, "%.3fx", seqBest.measuredMs() / m.measuredMs())));
                }
            }
        }
        sb.append("\n\"vs greedy\" is greedy's latency divided by this strategy's (above 1: faster than greedy). Gaps are to the problem's lower bound and to the best plan any strategy found (the exact optimum where the exact solver ran).\n");
        return sb.toString();
    }

    /** The run with the lowest measured latency, or null when none was measured. */
    private static Row fastestMeasured(List<Row> rs) {
        if (rs == null) return null;
        return rs.stream().filter(r -> !Double.isNaN(r.measuredMs())).min(java.util.Comparator.comparingDouble(Row::measuredMs)).orElse(null);
    }

    private static Double bestOf(List<Row> rs) {
        if (rs == null) return null;
        return rs.stream().filter(Row::feasible).map(Row::predictedMs).min(Double::compare).orElse(null);
    }

    private static String ratio(Double base, double v) { return base == null ? "" : String.format(Locale.ROOT, "%.3fx", base / v); }
}

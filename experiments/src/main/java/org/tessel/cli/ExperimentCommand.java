package org.tessel.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tessel.experiments.ExperimentConfig;
import org.tessel.experiments.ExperimentRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Runs a search experiment matrix from a YAML config and writes results.csv, results.json and summary.md. */
@Command(name = "experiment", description = {"Run a search experiment: models x strategies x time limits x seeds x targets from a YAML config",
        "(see experiments/configs/). Writes results.csv, results.json and summary.md under results/<config name>/."})
final class ExperimentCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "CONFIG", description = "The experiment config, e.g. experiments/configs/strategies-zoo.yaml") Path config;
    @Option(names = "--out", description = "Results directory (default results/<config name>).") Path out;
    @Option(names = "--measure", description = "Also build every run's plan on this machine's backend (a GPU engine where there is a GPU, else a CPU engine "
            + "executing the plan) and time it: measured_ms and measured_on in the results, predicted vs measured in summary.md.") boolean measure;
    @Option(names = "--iterations", converter = Ranges.Runs.class, defaultValue = "50", description = "Timed runs per engine with --measure (default ${DEFAULT-VALUE}).") int iterations;
    @Option(names = "--cpu", description = "With --measure: build CPU engines even where there is a GPU.") boolean cpu;
    @Option(names = "--sensitivity-cache", paramLabel = "DIR", description = "With accuracy_budgets: folder of measured sensitivities (default ~/.cache/tessel/sensitivity).") Path sensitivityCache;
    @Option(names = "--plot", paramLabel = "FILE.png", description = "Draw predicted latency against the time limit, one line per model and strategy (mean over seeds).") Path plot;

    @Override public Integer call() throws Exception {
        Plots.checkPath(plot, "--plot");
        ExperimentConfig c = ExperimentConfig.read(config);
        Path dir = out != null ? out : Path.of(System.getProperty("tessel.home", "."), "results", c.name());
        org.tessel.ir.io.AtomicFiles.checkWritable(dir.resolve("results.csv"));
        System.out.printf("experiment %s: %d runs%n", c.name(), c.runs());
        List<ExperimentRunner.Row> rows;
        ExperimentRunner runner;
        try (Progress p = Progress.start("experiment " + c.name(), c.runs())) {
            List<org.tessel.api.select.AlgorithmSelector> selectors = new java.util.ArrayList<>();
            for (String spec : c.selectorSpecs())
                try {
                    selectors.add(Tessel.plugins().selector(spec));
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException(config + ": key 'selectors': " + String.valueOf(e.getMessage()).replaceFirst("^--selector:? ?", ""), e);
                }
            runner = new ExperimentRunner(c, System.out).withProgress(p::stepTo).withSelectors(selectors);
            if (measure) {
                EngineMeasurer m = new EngineMeasurer(cpu ? new org.tessel.runtime.Backend.Cpu("--cpu") : org.tessel.runtime.Backend.detect(), iterations);
                System.out.println("measuring every plan's engine on " + m.backend() + " (" + iterations + " timed runs each)");
                runner = runner.withMeasurer(m);
            } else if (cpu) throw new IllegalArgumentException("--cpu picks the backend --measure builds engines for: add --measure");
            rows = runner.run();
        }
        ExperimentRunner.write(c, rows, dir);
        System.out.println("wrote " + dir.resolve("results.csv") + ", results.json, summary.md");
        if (!c.accuracyBudgets().isEmpty()) {
            List<org.tessel.experiments.AccuracySweep.Point> pts;
            try (Progress _ = Progress.start("accuracy budgets " + c.accuracyBudgets(), 0)) {
                pts = org.tessel.experiments.AccuracySweep.run(c, runner::baseOptions, sensitivityCache != null ? new org.tessel.accuracy.SensitivityCache(sensitivityCache)
                        : org.tessel.accuracy.SensitivityCache.inHome(), System.out);
            }
            org.tessel.experiments.AccuracySweep.write(pts, dir);
            Map<String, double[][]> front = new java.util.LinkedHashMap<>();
            for (String series : pts.stream().map(org.tessel.experiments.AccuracySweep.Point::series).distinct().toList()) {
                List<org.tessel.experiments.AccuracySweep.Point> on = pts.stream().filter(q -> q.series().equals(series) && q.onFront())
                        .sorted(java.util.Comparator.comparingDouble(org.tessel.experiments.AccuracySweep.Point::measuredError)).toList();
                if (!on.isEmpty()) front.put(series, new double[][] {on.stream().mapToDouble(org.tessel.experiments.AccuracySweep.Point::measuredError).toArray(),
                        on.stream().mapToDouble(org.tessel.experiments.AccuracySweep.Point::predictedMs).toArray()});
            }
            if (front.isEmpty()) System.out.println("accuracy sweep: no budget was kept, no front to draw");
            else {
                Plots.lines("experiment " + c.name() + ": latency/accuracy Pareto front", "measured error on held-out inputs (" + (c.accuracyBudgets().getFirst().startsWith("top1") ? "top-1 disagreement" : "rel_l2") + ")",
                        "predicted latency (ms)", false, front, dir.resolve("pareto.png"));
            }
            System.out.println("wrote " + dir.resolve("pareto.csv") + (front.isEmpty() ? "" : ", pareto.png"));
        }
        if (plot != null) {
            Map<String, java.util.TreeMap<Double, double[]>> by = new java.util.TreeMap<>();
            for (ExperimentRunner.Row r : rows) {
                if (!Double.isFinite(r.predictedMs())) continue;
                double[] sum = by.computeIfAbsent(r.model() + " " + r.strategy() + (c.targets().size() > 1 ? " @" + r.target() : ""), k -> new java.util.TreeMap<>())
                        .computeIfAbsent(r.timeLimitS(), k -> new double[2]);
                sum[0] += r.predictedMs();
                sum[1]++;
            }
            Map<String, double[][]> series = new java.util.LinkedHashMap<>();
            by.forEach((k, m) -> series.put(k, new double[][] {m.keySet().stream().mapToDouble(Double::doubleValue).toArray(),
                    m.values().stream().mapToDouble(v -> v[0] / v[1]).toArray()}));
            if (series.isEmpty()) throw new IllegalArgumentException("--plot: no run found a plan, nothing to draw");
            Plots.lines("experiment " + c.name() + ": predicted latency by search time limit", "time limit (s)", "predicted latency (ms)",
                    c.timeLimits().size() > 2, series, plot);
            System.out.println("plot: " + plot);
        }
        return 0;
    }
}

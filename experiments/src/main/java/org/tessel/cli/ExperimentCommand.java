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
    @Option(names = "--plot", paramLabel = "FILE.png", description = "Draw predicted latency against the time limit, one line per model and strategy (mean over seeds).") Path plot;

    @Override public Integer call() throws Exception {
        Plots.checkPath(plot, "--plot");
        ExperimentConfig c = ExperimentConfig.read(config);
        Path dir = out != null ? out : Path.of(System.getProperty("tessel.home", "."), "results", c.name());
        org.tessel.ir.io.AtomicFiles.checkWritable(dir.resolve("results.csv"));
        System.out.printf("experiment %s: %d runs%n", c.name(), c.runs());
        List<ExperimentRunner.Row> rows;
        try (Progress p = Progress.start("experiment " + c.name(), c.runs())) {
            rows = new ExperimentRunner(c, System.out).withProgress(p::stepTo).run();
        }
        ExperimentRunner.write(c, rows, dir);
        System.out.println("wrote " + dir.resolve("results.csv") + ", results.json, summary.md");
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

package org.tessel.cli;

import java.nio.file.Path;
import java.util.List;
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

    @Override public Integer call() throws Exception {
        ExperimentConfig c = ExperimentConfig.read(config);
        Path dir = out != null ? out : Path.of(System.getProperty("tessel.home", "."), "results", c.name());
        org.tessel.ir.io.AtomicFiles.checkWritable(dir.resolve("results.csv"));
        System.out.printf("experiment %s: %d runs%n", c.name(), c.runs());
        List<ExperimentRunner.Row> rows = new ExperimentRunner(c, System.out).run();
        ExperimentRunner.write(c, rows, dir);
        System.out.println("wrote " + dir.resolve("results.csv") + ", results.json, summary.md");
        return 0;
    }
}

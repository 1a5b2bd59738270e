package org.tessel.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.tuning.CalibrationReport;
import org.tessel.runtime.tuning.Measurement;
import org.tessel.runtime.tuning.TimingCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The cost model against the tactics a GPU build timed, from the timing cache file alone. */
@Command(name = "calibrate", description = {"Score the cost model against every tactic in a timing cache (the GPU auto-tuner's measurements):",
        "Spearman, Kendall and MAPE raw, with family scales cross-validated, and after a full fit (in-sample); the worst outliers.",
        "With MODELs (zoo:NAME or files; --batch applies), only the rows of those models' nodes (after the standard pipeline)."})
final class CalibrateCommand implements Callable<Integer> {
    @Option(names = "--timing-cache", required = true, description = "Timing cache file (written by a tuned GPU build, e.g. AutotuneBench).") Path cache;
    @Option(names = "--target", defaultValue = "h200-measured", description = "Cost-model device (default ${DEFAULT-VALUE}, with its fitted parameters).") String target;
    @Option(names = "--csv", description = "Write every row (measured, predicted raw / cross-validated / fitted) to this CSV.") Path csv;
    @Option(names = "--no-fit", description = "Skip the in-sample full fit (it takes seconds per 50 rows).") boolean noFit;
    @Option(names = "--write-params", paramLabel = "FILE", description = "Write the full fit's parameters to FILE, for `search`/`build --params FILE`.") Path writeParams;
    @Option(names = "--plot", paramLabel = "FILE.png", description = "Draw predicted against measured time per timed tactic (log-log PNG).") Path plot;
    @Option(names = "--outliers", converter = Ranges.AtLeastZero.class, defaultValue = "10", description = "How many outliers to list (default ${DEFAULT-VALUE}).") int outliers;
    @Option(names = "--batch", converter = Ranges.AtLeastOne.class, description = "Batch size of the zoo MODELs.") Integer batch;
    @Parameters(paramLabel = "MODEL", arity = "0..*", description = "Restrict to these models' nodes.") List<String> models = new ArrayList<>();

    @Override public Integer call() throws Exception {
        Plots.checkPath(plot, "--plot");
        TimingCache c = TimingCache.read(cache);
        Map<String, Measurement> rows = new LinkedHashMap<>();
        Set<String> keep = models.isEmpty() ? null : nodeKeys();
        int[] casts = {0};
        c.entries().forEach((k, m) -> {
            // a node's signature ends in @PRECISION (a fused candidate's adds |member...); a cast's ("cast|f32->f16|N") has none
            String sig = k.signature();
            int at = sig.lastIndexOf('@', sig.indexOf('|') < 0 ? sig.length() : sig.indexOf('|'));
            if (at < 0) { casts[0]++; return; } // an edge's cast is priced as bytes over bandwidth, not as a node's tactic
            String node = sig.substring(0, at);
            if (keep == null || keep.contains(node)) rows.put(k.signature() + "\t" + k.tactic(), m);
        });
        System.out.printf("timing cache %s: %d entries measured on %s (driver %s, %s); %d rows selected%s%n", cache, c.size(), c.environment().gpu(),
                c.environment().driver(), c.environment().libraries(), rows.size(), casts[0] == 0 ? "" : " (" + casts[0] + " timed casts left out: not nodes)");
        if (writeParams != null && noFit) throw new IllegalArgumentException("--write-params writes the full fit's parameters; drop --no-fit");
        if (writeParams != null) org.tessel.ir.io.AtomicFiles.checkWritable(writeParams);
        CalibrationReport r = CalibrationReport.of(rows, target, !noFit);
        if (writeParams != null) {
            if (r.fittedParams() == null) throw new IllegalArgumentException("--write-params: fewer than two rows could be priced, so nothing was fitted");
            r.fittedParams().store(writeParams, String.format(java.util.Locale.ROOT, "fitted by `tessel calibrate --timing-cache %s` on %s: %d rows measured on %s, Spearman %.4f -> %.4f, MAPE %.2f%% -> %.2f%%",
                    cache.getFileName(), target, r.fitted().rows(), c.environment().gpu(), r.raw().spearman(), r.fitted().spearman(), r.raw().mapePct(), r.fitted().mapePct()));
        }
        System.out.print(r.text(outliers));
        if (csv != null) {
            r.writeCsv(csv);
            System.out.println("csv: " + csv + " (" + r.entries().size() + " rows)");
        }
        if (plot != null) {
            var es = r.entries();
            Plots.predictedVsMeasured("cost model (" + target + ") vs " + c.environment().gpu() + " measurements", es.stream().mapToDouble(e -> e.measuredUs()).toArray(),
                    es.stream().mapToDouble(e -> e.predictedUs()).toArray(), plot);
            System.out.println("plot: " + plot);
        }
        if (writeParams != null) System.out.println("params: " + writeParams + " (for search/build --params)");
        System.out.println(r.summary());
        return 0;
    }

    /** Signatures (without the precision) of the models' nodes. */
    private Set<String> nodeKeys() throws Exception {
        Set<String> out = new HashSet<>();
        for (String m : models) {
            ModelOptions mo = new ModelOptions();
            mo.model = m.startsWith("zoo:") || Path.of(m).toFile().exists() ? m : "zoo:" + m;
            mo.batch = batch;
            mo.seed = 42;
            Graph g = mo.load();
            new PassManager().run(g, StandardPipelines.STANDARD);
            for (Node n : g.nodes()) {
                String s = TimingCache.signature(n, "X");
                out.add(s.substring(0, s.length() - 2));
            }
        }
        return out;
    }
}

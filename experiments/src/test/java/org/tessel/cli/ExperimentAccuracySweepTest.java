package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.experiments.ExperimentConfig;

/**
 * `accuracy_budgets` in an experiment config: every budget solved and checked per strategy, pareto.csv
 * with predicted latency, predicted and measured error and the front, pareto.png drawn; bad budgets in
 * a config are refused naming the key.
 */
class ExperimentAccuracySweepTest {
    @TempDir Path dir;

    @Test void sweepWritesTheParetoFrontAsCsvAndPng() throws Exception {
        Path config = dir.resolve("acc.yaml");
        Files.writeString(config, "name: acc\nmodels: [resnet50-tiny]\nbatch: 4\nstrategies: [exact, greedy]\ntime_limits: [1]\nseeds: [0]\n"
                + "accuracy_budgets: [rel_l2=0, rel_l2=0.0005, rel_l2=1]\naccuracy_samples: 1\n");
        Path out = dir.resolve("out");
        CliRun r = CliRun.of("experiment", config.toString(), "--out", out.toString(), "--sensitivity-cache", dir.resolve("cache").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("sensitivity of resnet50-tiny: measured") && r.out().contains("wrote " + out.resolve("pareto.csv") + ", pareto.png"), r.out());
        List<String> csv = Files.readAllLines(out.resolve("pareto.csv"));
        assertEquals("model,target,strategy,budget,predicted_ms,predicted_error,measured_error,rounds,on_front,error", csv.get(0));
        assertEquals(1 + 2 * 3, csv.size(), String.join("\n", csv));
        for (String row : csv.subList(1, csv.size())) {
            String[] f = row.split(",", -1);
            double budget = Double.parseDouble(f[3].substring("rel_l2=".length())), predicted = Double.parseDouble(f[5]), measured = Double.parseDouble(f[6]);
            assertTrue(predicted <= budget + 1e-12 && measured <= budget + 1e-12, row);
            assertEquals("", f[9], row);
        }
        // the loosest budget is the fastest point, the budget-0 point the most accurate: both on the front
        for (String s : List.of("exact", "greedy")) {
            List<String[]> rows = csv.stream().skip(1).map(l -> l.split(",", -1)).filter(f -> f[2].equals(s)).toList();
            assertEquals(0.0, Double.parseDouble(rows.getFirst()[6]), "budget 0 measures no error: " + String.join(",", rows.getFirst()));
            assertTrue(Double.parseDouble(rows.getLast()[4]) <= Double.parseDouble(rows.getFirst()[4]), s);
            assertEquals("true", rows.getFirst()[8]);
        }
        assertTrue(Files.size(out.resolve("pareto.png")) > 1000);
        CliRun again = CliRun.of("experiment", config.toString(), "--out", out.toString(), "--sensitivity-cache", dir.resolve("cache").toString());
        assertTrue(again.out().contains("sensitivity of resnet50-tiny: reused"), again.out());
    }

    @Test void badBudgetsInAConfigNameTheKey() throws Exception {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, "models: [resnet50-tiny]\nstrategies: [exact]\naccuracy_budgets: [rel_l2=-1]\n");
        String m = assertThrows(IllegalArgumentException.class, () -> ExperimentConfig.read(f)).getMessage();
        assertTrue(m.contains("key 'accuracy_budgets'") && m.contains("at least 0"), m);
        Files.writeString(f, "models: [resnet50-tiny]\nstrategies: [exact]\naccuracy_budgets: [rel_l2=0.1, top1=0.99]\n");
        m = assertThrows(IllegalArgumentException.class, () -> ExperimentConfig.read(f)).getMessage();
        assertTrue(m.contains("mixes rel_l2 and top1"), m);
        Files.writeString(f, "models: [resnet50-tiny]\nstrategies: [exact]\naccuracy_samples: 0\n");
        m = assertThrows(IllegalArgumentException.class, () -> ExperimentConfig.read(f)).getMessage();
        assertTrue(m.contains("key 'accuracy_samples'"), m);
    }
}

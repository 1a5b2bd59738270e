package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `tessel experiment --measure`: every run's plan is built on the backend and timed; the results say where and how fast. */
class ExperimentMeasureTest {
    @TempDir Path dir;

    @Test void everyFeasibleRunIsBuiltAndTimed() throws Exception {
        Path config = dir.resolve("m.yaml");
        Files.writeString(config, "name: m\nmodels: [resnet50-tiny]\nstrategies: [joint, sequential, rule]\ntime_limits: [1]\nseeds: [0]\ntargets: [h200-measured]\n");
        Path out = dir.resolve("out");
        CliRun r = CliRun.of("experiment", config.toString(), "--measure", "--cpu", "--iterations", "3", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("measuring every plan's engine on cpu"), r.out());
        List<String> csv = Files.readAllLines(out.resolve("results.csv"));
        assertTrue(csv.get(0).endsWith(",measured_ms,measured_on"), csv.get(0));
        assertEquals(4, csv.size());
        for (String row : csv.subList(1, csv.size())) {
            String[] f = row.split(",");
            assertTrue(Double.parseDouble(f[f.length - 2]) > 0, row);
            assertEquals("\"cpu\"", f[f.length - 1], row);
        }
        String summary = Files.readString(out.resolve("summary.md"));
        assertTrue(summary.contains("## Measured") && summary.contains("Measured on the CPU backend") && summary.contains("| resnet50-tiny | h200-measured | rule | cpu |"), summary);
        CliRun noMeasure = CliRun.of("experiment", config.toString(), "--cpu", "--out", out.toString());
        assertEquals(2, noMeasure.code());
        assertTrue(noMeasure.err().contains("--cpu picks the backend --measure builds engines for"), noMeasure.err());
    }
}

package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.accuracy.AccuracyInputs;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.Searcher;

/**
 * `--accuracy-budget` on `search` and `build`: bad values and misplaced flags are one clear line
 * naming the flag; a search measures per-node sensitivity once and reuses it (saying so) and reports
 * the predicted error beside the latency; a build checks its engine on held-out inputs, from files
 * too; held-out inputs equal to the sensitivity inputs are refused.
 */
class AccuracyBudgetCommandTest {
    private static CliRun run(String... args) { return CliRun.of(args); }

    private static void oneLineNaming(CliRun r, String... parts) {
        assertEquals(2, r.code(), r.out() + r.err());
        for (String p : parts) assertTrue(r.err().contains(p), r.err());
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), "no stack trace: " + r.err());
    }

    @Test void badBudgetsNameTheFlag() {
        oneLineNaming(run("search", "resnet50-tiny", "--accuracy-budget", "foo"), "--accuracy-budget 'foo'", "rel_l2=VALUE");
        oneLineNaming(run("search", "resnet50-tiny", "--accuracy-budget", "rel_l2=-0.1"), "--accuracy-budget 'rel_l2=-0.1'", "at least 0");
        oneLineNaming(run("search", "resnet50-tiny", "--accuracy-budget", "top1=1.5"), "--accuracy-budget 'top1=1.5'", "between 0 and 1");
        oneLineNaming(run("search", "resnet50-tiny", "--accuracy-budget", "latency=3"), "unknown metric 'latency'");
        oneLineNaming(run("build", "zoo:resnet50-tiny", "--save-engine", "x.engine", "--cpu", "--accuracy-budget", "rel_l2=0.1"), "--accuracy-budget constrains a search", "--strategy");
        oneLineNaming(run("search", "resnet50-tiny", "--accuracy-inputs", "somewhere"), "--accuracy-inputs applies with an accuracy budget");
        oneLineNaming(run("search", "resnet50-tiny", "--accuracy-samples", "0", "--accuracy-budget", "rel_l2=0.1"), "--accuracy-samples");
    }

    @Test void searchMeasuresOnceThenReusesAndReportsThePredictedError(@TempDir Path cache) {
        String[] args = {"search", "resnet50-tiny", "--batch", "4", "--strategy", "exact", "--accuracy-budget", "rel_l2=0.0005", "--sensitivity-cache", cache.toString()};
        CliRun first = run(args);
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("sensitivity: measured") && first.out().contains("cached in " + cache), first.out());
        assertTrue(first.out().matches("(?s).*accuracy: +predicted rel_l2 [0-9.e-]+ \\(budget 0.0005\\).*"), first.out());
        CliRun second = run(args);
        assertEquals(0, second.code(), second.err());
        assertTrue(second.out().contains("sensitivity: reused " + cache), second.out());
        assertEquals(lastLine(first.out()), lastLine(second.out()), "same model, same plan");
    }

    @Test void budgetZeroIsAnFp32PlanAndTop1WorksOnAClassifier(@TempDir Path cache) {
        CliRun r = run("search", "resnet50-tiny", "--batch", "4", "--accuracy-budget", "rel_l2=0", "--sensitivity-cache", cache.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("predicted rel_l2 0 (budget 0)"), r.out());
        String formats = r.out().lines().filter(l -> l.startsWith("formats:")).findFirst().orElseThrow();
        assertFalse(formats.contains("fp16") || formats.contains("bf16"), formats);
        CliRun t = run("search", "resnet50-tiny", "--batch", "4", "--accuracy-budget", "top1=0.999", "--sensitivity-cache", cache.toString());
        assertEquals(0, t.code(), t.err());
        assertTrue(t.out().contains("sensitivity: reused") && t.out().contains("predicted top1 "), t.out());
    }

    @Test void unreachableBudgetIsAClearError(@TempDir Path cache) {
        CliRun r = run("search", "resnet50-tiny", "--batch", "4", "--precision", "*=fp16", "--accuracy-budget", "rel_l2=0", "--sensitivity-cache", cache.toString());
        oneLineNaming(r, "accuracy budget rel_l2=0 cannot be met on 'resnet50-tiny'", "error-free precision");
    }

    @Test void buildChecksOnHeldOutFilesAndRefusesTheSensitivitySetAsHeldOut(@TempDir Path dir) throws Exception {
        Graph g = Searcher.prepare(Zoo.build("resnet50-tiny", ZooOptions.defaults().withBatch(4)));
        Path a = Files.createDirectories(dir.resolve("calib")), b = Files.createDirectories(dir.resolve("heldout"));
        Npy.write(a.resolve(g.inputs().getFirst().name() + ".npy"), AccuracyInputs.generated(g, 5, 1).sets().getFirst().getFirst());
        Npy.write(b.resolve(g.inputs().getFirst().name() + ".npy"), AccuracyInputs.generated(g, 6, 1).sets().getFirst().getFirst());
        Path engine = dir.resolve("e.engine");
        CliRun r = run("build", "zoo:resnet50-tiny", "--batch", "4", "--strategy", "greedy", "--best", "--cpu", "--save-engine", engine.toString(),
                "--accuracy-budget", "rel_l2=0.0005", "--accuracy-inputs", a.toString(), "--accuracy-check-inputs", b.toString(), "--sensitivity-cache", dir.resolve("cache").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("accuracy check, round 1 of 3") && r.out().contains("1 input set from [" + b + "]") && r.out().contains("kept"), r.out());
        assertTrue(r.out().contains("measured rel_l2") && Files.exists(engine), r.out());
        CliRun same = run("build", "zoo:resnet50-tiny", "--batch", "4", "--strategy", "greedy", "--best", "--cpu", "--save-engine", engine.toString(),
                "--accuracy-budget", "rel_l2=0.0005", "--accuracy-inputs", a.toString(), "--accuracy-check-inputs", a.toString(), "--sensitivity-cache", dir.resolve("cache").toString());
        oneLineNaming(same, "--accuracy-check-inputs", "would not be held out");
        CliRun missing = run("search", "resnet50-tiny", "--accuracy-budget", "rel_l2=0.1", "--accuracy-inputs", dir.resolve("nope").toString(), "--sensitivity-cache", dir.resolve("cache").toString());
        oneLineNaming(missing, "--accuracy-inputs " + dir.resolve("nope"), "no such folder");
    }

    private static String lastLine(String s) { List<String> l = s.strip().lines().toList(); return l.getLast(); }
}

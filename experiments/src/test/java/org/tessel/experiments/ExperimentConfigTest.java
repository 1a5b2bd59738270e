package org.tessel.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Configs are read strictly, with the key and a suggestion; the smoke matrix runs and writes its three files. */
class ExperimentConfigTest {
    @TempDir Path dir;

    private String refused(String yaml) throws Exception {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, yaml);
        return assertThrows(IllegalArgumentException.class, () -> ExperimentConfig.read(f)).getMessage();
    }

    @Test void unknownKeyIsNamedWithItsLineAndASuggestion() throws Exception {
        String m = refused("name: x\nmodels: [bert-tiny]\nstratgies: [greedy]\n");
        assertTrue(m.contains("unknown key 'stratgies' at line 3 (did you mean 'strategies'?)"), m);
    }

    @Test void wrongTypeNamesTheKey() throws Exception {
        String m = refused("models: [bert-tiny]\nstrategies: [greedy]\nseeds: [one]\n");
        assertTrue(m.contains("key 'seeds[0]' at line 3: expected a list of integers"), m);
        m = refused("models: bert-tiny\nstrategies: [greedy]\n\ncuda_graphs: maybe\n");
        assertTrue(m.contains("key 'cuda_graphs' at line 4: expected true or false"), m);
    }

    /** params: names a parameter set or a file beside the config; a missing file is refused naming the config and the key. */
    @Test void paramsAreANamedSetOrAFileBesideTheConfig() throws Exception {
        Path f = dir.resolve("p.yaml");
        Files.writeString(f, "models: [resnet50-tiny]\nstrategies: [rule]\nparams: h200-fitted\n");
        // the config's params reach the search options its runs share
        var o = new ExperimentRunner(ExperimentConfig.read(f), new PrintStream(java.io.OutputStream.nullOutputStream())).baseOptions("h100");
        assertEquals(org.tessel.cost.CostModel.Params.h200Fitted().toString(), o.costParams().toString());
        org.tessel.cost.CostModel.Params.h200Fitted().store(dir.resolve("mine.properties"), "test");
        Files.writeString(f, "models: [resnet50-tiny]\nstrategies: [rule]\nparams: mine.properties\n");
        assertEquals(dir.resolve("mine.properties").toAbsolutePath().toString(), ExperimentConfig.read(f).params());
        String m = refused("models: [resnet50-tiny]\nstrategies: [rule]\nparams: nowhere.properties\n");
        assertTrue(m.startsWith(dir.resolve("bad.yaml") + ": key 'params': " + dir.resolve("nowhere.properties").toAbsolutePath() + ": no such file"), m);
    }

    @Test void unknownModelStrategyTargetAndRuleAreRefusedWithSuggestions() throws Exception {
        assertTrue(refused("models: [resnet5]\nstrategies: [greedy]\n").contains("unknown model 'resnet5' (did you mean 'resnet50'?)"));
        assertTrue(refused("models: [bert-tiny]\nstrategies: [timefld]\n").contains("unknown strategy 'timefld' (did you mean 'timefold'?)"));
        assertTrue(refused("models: [bert-tiny]\nstrategies: [greedy]\ntargets: [h10]\n").contains("unknown target 'h10'"));
        assertTrue(refused("models: [bert-tiny]\nstrategies: [greedy]\nprecision: [Softmax=fp64]\n").contains("key 'precision': precision rule 'Softmax=fp64': unknown precision 'fp64'"));
        assertTrue(refused("strategies: [greedy]\n").contains("key 'models' is missing"));
    }

    @Test void theShippedConfigsParse() throws Exception {
        Path configs = Path.of(System.getProperty("user.dir")).resolve("configs");
        ExperimentConfig zoo = ExperimentConfig.read(configs.resolve("strategies-zoo.yaml"));
        assertTrue(zoo.models().containsAll(List.of("resnet50", "mobilenetv2", "bert-base")));
        assertEquals(5, zoo.strategies().size());
        ExperimentConfig families = ExperimentConfig.read(configs.resolve("strategies-families.yaml"));
        assertTrue(families.models().containsAll(List.of("efficientnet-b0", "convnext-tiny", "unet", "unet-bilinear", "crnn", "ssdlite")));
        assertTrue(families.strategies().containsAll(List.of("joint", "rule")));
    }

    @Test void smokeMatrixRunsAndWritesResults() throws Exception {
        ExperimentConfig c = ExperimentConfig.read(Path.of(System.getProperty("user.dir")).resolve("configs/smoke.yaml"));
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        List<ExperimentRunner.Row> rows = new ExperimentRunner(c, new PrintStream(log, true)).run();
        assertEquals(c.runs(), rows.size());
        for (ExperimentRunner.Row r : rows) {
            assertTrue(r.feasible(), r.toString());
            assertTrue(r.boundMs() <= r.predictedMs() + 1e-12, r.toString());
            assertTrue(r.gapToBestPct() >= 0, r.toString());
        }
        // the exact optimum is the best plan, and the joint search is within 1% of it
        for (ExperimentRunner.Row r : rows) if (r.strategy().equals("exact")) assertEquals(0, r.gapToBestPct(), 1e-9, r.toString());
        for (ExperimentRunner.Row r : rows) if (r.strategy().equals("timefold")) assertTrue(r.gapToBestPct() <= 1, r.toString());
        ExperimentRunner.write(c, rows, dir.resolve("out"));
        List<String> csv = Files.readAllLines(dir.resolve("out/results.csv"));
        assertEquals(rows.size() + 1, csv.size());
        assertTrue(csv.get(0).startsWith("model,strategy,target,time_limit_s,seed"));
        assertTrue(Files.readString(dir.resolve("out/results.json")).contains("\"predicted_ms\""));
        assertTrue(Files.readString(dir.resolve("out/summary.md")).contains("| resnet50-tiny | h100 | timefold |"));
    }
}

package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.CatalogCosting;
import org.tessel.search.MeasuredCosting;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.search.domain.Choice;
import org.tessel.tactics.TacticCatalog;
import org.tessel.runtime.tuning.TimingCache;

/** The H200 timing cache (runtime's test fixture) feeding the search, and `tessel calibrate` on it. */
class TimingCacheSearchTest {
    static final Path CACHE = Path.of("../runtime/src/test/resources/tuning/h200-autotune-cache.txt");

    @Test void measuredTimesReplacePredictionsWhereTheCacheHasThem() throws Exception {
        TimingCaches.Loaded loaded = TimingCaches.measured(TimingCache.read(CACHE));
        assertEquals(140, loaded.rows());
        assertEquals(0, loaded.skipped());
        CatalogCosting model = new CatalogCosting(TacticCatalog.global(), new CostModel(DeviceSpec.byName("h200-measured")), true);
        MeasuredCosting costing = new MeasuredCosting(model, loaded.costs());
        Graph g = Searcher.prepare(Zoo.build("resnet50", ZooOptions.defaults()));
        SearchProblem p = Searcher.problem(g, costing, SearchOptions.defaults().withTarget("h200-measured").withCudaGraphs(true));
        assertTrue(costing.measurementsUsed() > 10, "used " + costing.measurementsUsed());
        // every override is the fastest measured algorithm of that node and tactic
        int checked = 0;
        for (var n : g.nodes()) {
            List<Choice> priced = costing.choices(n, 0, List.of(Layout.NHWC));
            for (Choice c : priced) {
                var m = loaded.costs().get(n, c.tacticId(), c.precision(), c.layout());
                if (m.isEmpty()) continue;
                assertEquals(Math.round(m.getAsDouble() * 1e6), c.latencyPs(), n.describe());
                assertEquals(Precision.FP16, c.precision());
                checked++;
            }
        }
        assertTrue(checked > 0);
        assertTrue(p.size() > 0);
    }

    @Test void calibrateScoresTheCache() {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Tessel.execute("calibrate", "--timing-cache", CACHE.toString(), "--no-fit", "--outliers", "3", "zoo:resnet50", "--batch", "1");
        } finally {
            System.setOut(old);
        }
        String s = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, s);
        assertTrue(s.contains("| raw model") && s.contains("cross-validated") && s.contains("worst 3 outliers"), s);
        // ResNet-50 b1 only: the b32 and MobileNetV2 rows are left out
        assertTrue(s.matches("(?s).*140 entries .*; (\\d+) rows selected.*") && !s.contains("; 140 rows selected"), s);
    }

    /**
     * A cache a measuring build writes holds timed casts ("cast|f32->f16|N", no node) and fused elementwise chains (whose
     * body the signature does not carry) and views timed alone as copies (older caches; the model prices a view free):
     * calibrate leaves the casts out, lists the chains and views as unpriced, and scores and fits the rest.
     */
    @Test void calibrateTakesACacheWithCastsAndFusedChains(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path cache = dir.resolve("tc.txt");
        String rows = java.nio.file.Files.readString(CACHE)
                + "cast|f32->f16|802816\ttessel.cast\t2.4640\t0.0320\t25\n"
                + "tessel.Fused[Add,Relu]{kind=eltwise;}(f32[1,1024,14,14],f32[1,1024,14,14])->f32[1,1024,14,14]@FP16\ttessel.eltwise.fused\t4.1280\t0.0640\t25\n"
                + "Unsqueeze{}(i64[32,128],i64[2]c)->i64[32,1,1,128]@FP32\ttessel.view\t2.1120\t0.0320\t25\n";
        java.nio.file.Files.writeString(cache, rows);
        Path params = dir.resolve("fitted.properties");
        CliRun c = CliRun.of("calibrate", "--timing-cache", cache.toString(), "--outliers", "0", "--write-params", params.toString());
        assertEquals(0, c.code(), c.err());
        assertTrue(c.out().contains("(1 timed casts left out: not nodes)"), c.out());
        assertTrue(c.out().contains("unpriced="), c.out());
        // the fitted parameters price a search (--params), and change its prediction
        String fitted = predicted(CliRun.of("search", "zoo:resnet50-tiny", "--strategy", "rule", "--params", params.toString()));
        String plain = predicted(CliRun.of("search", "zoo:resnet50-tiny", "--strategy", "rule"));
        assertEquals(plain, predicted(CliRun.of("search", "zoo:resnet50-tiny", "--strategy", "rule", "--params", "defaults")));
        assertTrue(!fitted.equals(plain), fitted + " vs " + plain);
        assertEquals("tessel search: --params " + dir.resolve("none") + ": no such file (give 'defaults', 'h200-fitted' or a file written by --write-params)",
                CliRun.of("search", "zoo:resnet50-tiny", "--params", dir.resolve("none").toString()).err().strip());
        assertEquals("tessel calibrate: --write-params writes the full fit's parameters; drop --no-fit",
                CliRun.of("calibrate", "--timing-cache", cache.toString(), "--no-fit", "--write-params", params.toString()).err().strip());
    }

    /**
     * `search --timing-cache C --tuning top-k` replays a measuring build's search: it says how many of the build's questions
     * the cache answered (this H200 fixture predates the tuner's keys, so the model prices most), and refuses a replay
     * without a cache or of a level that times nothing, naming the flag.
     */
    @Test void aSearchReplaysAMeasuringBuildFromItsCache() {
        CliRun r = CliRun.of("search", "zoo:resnet50-tiny", "--strategy", "exact", "--target", "h200-measured", "--timing-cache", CACHE.toString(), "--tuning", "top-k", "--top-k", "2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s).*a measuring build's search replayed \\(--tuning top-k --top-k 2\\): \\d+ answers from the cache, \\d+ questions it holds no answer to.*"), r.out());
        predicted(r);
        assertEquals("tessel search: --tuning top-k replays a GPU build's measurements: give its --timing-cache (a search has no GPU to time on)",
                CliRun.of("search", "zoo:resnet50-tiny", "--tuning", "top-k").err().strip());
        assertEquals("tessel search: --tuning 'fixed': a search replays a measuring build's top-k or all (fixed and cost-model time nothing)",
                CliRun.of("search", "zoo:resnet50-tiny", "--tuning", "fixed", "--timing-cache", CACHE.toString()).err().strip());
    }

    private static String predicted(CliRun r) {
        assertEquals(0, r.code(), r.err());
        return r.out().lines().filter(l -> l.startsWith("predicted latency:")).findFirst().orElseThrow(() -> new AssertionError(r.out()));
    }
}

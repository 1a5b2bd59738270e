package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.runtime.tuning.Measurement;
import org.tessel.runtime.tuning.TimingCache;

/**
 * `tessel cache show|merge|edit|prune` on a copy of the H200 timing cache: every count is checked
 * against the file read with {@link TimingCache}, edits survive a read back (and reach the search's
 * measured prices), bad edits are one line and leave the file byte for byte as it was, and no write
 * leaves a temporary file behind.
 */
class CacheCommandTest {
    @TempDir Path dir;
    Path cache;
    TimingCache original;

    @BeforeEach void copy() throws Exception {
        cache = dir.resolve("h200.cache");
        Files.copy(TimingCacheSearchTest.CACHE, cache);
        original = TimingCache.read(cache);
    }

    static long count(TimingCache c, java.util.function.BiPredicate<TimingCache.Key, Measurement> p) {
        return c.entries().entrySet().stream().filter(e -> p.test(e.getKey(), e.getValue())).count();
    }

    void assertNoLeftovers() throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".edit-") || p.getFileName().toString().endsWith(".tmp")), "no temporary files left");
        }
    }

    void assertRefused(String[] args, String... parts) throws Exception {
        byte[] before = Files.readAllBytes(cache);
        CliRun r = CliRun.of(args);
        assertEquals(2, r.code(), r.out());
        for (String p : parts) assertTrue(r.err().contains(p), "'" + p + "' in " + r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertArrayEquals(before, Files.readAllBytes(cache), "the file is unchanged");
        assertNoLeftovers();
    }

    @Test void showListsEntriesPerTacticAndFilters() {
        CliRun all = CliRun.of("cache", "show", cache.toString());
        assertEquals(0, all.code(), all.err());
        assertTrue(all.out().startsWith("timing cache " + cache + ": gpu NVIDIA H200, driver 13000, libraries {cudnn=91400}, " + original.size() + " entries"), all.out());
        long rows = all.out().lines().filter(l -> l.matches("\\s*\\d+  .*")).count();
        assertEquals(original.size(), rows);
        long gemms = count(original, (k, m) -> k.tactic().startsWith("cublaslt.gemm"));
        CliRun some = CliRun.of("cache", "show", cache.toString(), "--tactic", "cublaslt.*");
        assertTrue(some.out().contains(", " + gemms + " shown"), some.out());
        assertEquals(gemms, some.out().lines().filter(l -> l.matches("\\s*\\d+  .*")).count());
        CliRun summary = CliRun.of("cache", "show", cache.toString(), "--summary", "--op", "Conv");
        assertTrue(summary.out().contains("cudnn.conv.fused_bias_act/cudnn.conv.implicit_gemm") && !summary.out().contains("cublaslt"), summary.out());
        assertTrue(summary.out().lines().noneMatch(l -> l.matches("\\s*\\d+  .*")), "no rows with --summary");
    }

    @Test void pruneDropsByTacticOpNoiseAndRuns() throws Exception {
        long heuristics = count(original, (k, m) -> k.tactic().matches("cublaslt\\.gemm/heuristic_."));
        CliRun dry = CliRun.of("cache", "prune", cache.toString(), "--tactic", "cublaslt.gemm/heuristic_?", "--dry-run");
        assertEquals(0, dry.code(), dry.err());
        assertTrue(dry.out().contains(heuristics + " entries would be dropped"), dry.out());
        assertEquals(original.size(), TimingCache.read(cache).size(), "a dry run writes nothing");
        double noise = 0.005;
        long noisy = count(original, (k, m) -> !k.tactic().startsWith("cublaslt") && m.relativeNoise() > noise);
        assertTrue(noisy > 0 && noisy < original.size() - heuristics, "the fixture has some noisy rows: " + noisy);
        CliRun r = CliRun.of("cache", "prune", cache.toString(), "--tactic", "cublaslt.gemm/heuristic_?", "--max-noise", String.valueOf(noise));
        assertEquals(0, r.code(), r.err());
        TimingCache after = TimingCache.read(cache);
        assertEquals(original.size() - heuristics - noisy, after.size(), r.out());
        assertTrue(r.out().contains((heuristics + noisy) + " entries dropped, " + after.size() + " kept"), r.out());
        assertTrue(after.entries().keySet().stream().noneMatch(k -> k.tactic().startsWith("cublaslt")));
        assertEquals(original.environment(), after.environment());
        int minRuns = original.entries().values().stream().mapToInt(Measurement::runs).max().orElseThrow() + 1;
        assertEquals(0, CliRun.of("cache", "prune", cache.toString(), "--op", "Gemm", "--min-runs", String.valueOf(minRuns)).code());
        assertEquals(0, TimingCache.read(cache).size(), "every row has fewer runs than the largest plus one");
        assertNoLeftovers();
        assertRefused(new String[] {"cache", "prune", cache.toString()}, "prune needs a criterion");
        assertRefused(new String[] {"cache", "prune", dir.resolve("none.cache").toString(), "--op", "Conv"}, "no such timing cache");
    }

    @Test void editSetsAndDeletesOneEntryAndTheSearchPricesWithIt() throws Exception {
        var first = original.entries().entrySet().iterator().next();
        String sig = first.getKey().signature(), tactic = first.getKey().tactic();
        CliRun set = CliRun.of("cache", "edit", cache.toString(), "--signature", sig, "--tactic", tactic, "--median-us", "0.125", "--mad-us", "0.001", "--runs", "20");
        assertEquals(0, set.code(), set.err());
        assertTrue(set.out().contains(": set " + tactic), set.out());
        TimingCache after = TimingCache.read(cache);
        assertEquals(new Measurement(0.125, 0.001, 20), after.get(sig, tactic).orElseThrow());
        assertEquals(original.size(), after.size());
        // the search's measured prices take the edited row
        TimingCaches.Loaded loaded = TimingCaches.measured(after);
        org.tessel.runtime.tuning.TacticPredictor pr = org.tessel.runtime.tuning.TacticPredictor.builtin();
        var node = pr.node(sig);
        var m = loaded.costs().get(node, pr.catalogueId(sig, tactic), org.tessel.cost.Precision.valueOf(org.tessel.runtime.tuning.SignatureNodes.precision(sig)),
                org.tessel.runtime.tuning.SignatureNodes.layout(sig));
        assertEquals(0.125, m.orElseThrow(), 1e-12, "the fastest algorithm of that node and tactic is now the edited one");

        String other = "cudnn.conv.fused_bias_act/cudnn.conv.winograd";
        CliRun add = CliRun.of("cache", "edit", cache.toString(), "--signature", sig, "--tactic", other, "--median-us", "9");
        assertEquals(0, add.code(), add.err());
        assertTrue(add.out().contains(": added " + other) && add.out().contains((original.size() + 1) + " entries"), add.out());
        CliRun del = CliRun.of("cache", "edit", cache.toString(), "--signature", sig, "--tactic", tactic, "--delete");
        assertEquals(0, del.code(), del.err());
        TimingCache last = TimingCache.read(cache);
        assertTrue(last.get(sig, tactic).isEmpty() && last.get(sig, other).isPresent());
        assertEquals(original.size(), last.size());
        assertNoLeftovers();

        assertRefused(new String[] {"cache", "edit", cache.toString(), "--signature", sig, "--tactic", tactic, "--delete"}, "has no entry for tactic " + tactic,
                "its tactics there: [" + other + "]");
        assertRefused(new String[] {"cache", "edit", cache.toString(), "--signature", "Conv{(nonsense", "--tactic", tactic, "--median-us", "1"}, "--signature:", "Conv{(nonsense");
        assertRefused(new String[] {"cache", "edit", cache.toString(), "--signature", sig, "--tactic", "cudnn.conv.fused_bias_ac/x", "--median-us", "1"},
                "--tactic: unknown tactic 'cudnn.conv.fused_bias_ac'", "cudnn.conv.fused_bias_act");
        assertRefused(new String[] {"cache", "edit", cache.toString(), "--signature", sig, "--tactic", tactic, "--median-us", "-1"}, "bad measurement");
        assertRefused(new String[] {"cache", "edit", cache.toString(), "--signature", sig, "--tactic", tactic, "--median-us", "1", "--delete"}, "--delete and --median-us exclude each other");
        assertRefused(new String[] {"cache", "edit", cache.toString(), "--signature", sig, "--tactic", tactic}, "give --median-us US to set the entry, or --delete");
    }

    @Test void mergeJoinsCachesOfOneEnvironmentOnly() throws Exception {
        Path a = dir.resolve("a.cache"), b = dir.resolve("b.cache"), out = dir.resolve("merged.cache");
        Files.copy(cache, a);
        Files.copy(cache, b);
        assertEquals(0, CliRun.of("cache", "prune", a.toString(), "--tactic", "cudnn.*").code());
        assertEquals(0, CliRun.of("cache", "prune", b.toString(), "--tactic", "cublaslt.*").code());
        int na = TimingCache.read(a).size(), nb = TimingCache.read(b).size();
        assertEquals(original.size(), na + nb);
        CliRun r = CliRun.of("cache", "merge", out.toString(), a.toString(), b.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains(out + ": " + original.size() + " entries (" + original.size() + " new, 0 replaced)"), r.out());
        assertEquals(original.entries(), TimingCache.read(out).entries());
        // a better measurement replaces a worse one
        var k = original.entries().keySet().iterator().next();
        assertEquals(0, CliRun.of("cache", "edit", a.toString(), "--signature", k.signature(), "--tactic", k.tactic(), "--median-us", "1", "--runs", "1000").code());
        r = CliRun.of("cache", "merge", out.toString(), a.toString());
        assertTrue(r.out().contains("(0 new, 1 replaced)"), r.out());
        assertEquals(1.0, TimingCache.read(out).get(k.signature(), k.tactic()).orElseThrow().medianUs());
        // another GPU's cache is refused, naming both files
        TimingCache elsewhere = new TimingCache(new TimingCache.Environment("NVIDIA L4", "13000", Map.of("cudnn", "91400")));
        elsewhere.put(k.signature(), k.tactic(), new Measurement(2, 0.1, 5));
        Path l4 = dir.resolve("l4.cache");
        elsewhere.save(l4);
        cache = out;
        assertRefused(new String[] {"cache", "merge", out.toString(), l4.toString()}, "cannot merge " + l4 + " into " + out, "GPU NVIDIA H200 vs NVIDIA L4", "nothing written");
        assertFalse(Files.exists(dir.resolve("merged.cache.tmp")));
    }
}

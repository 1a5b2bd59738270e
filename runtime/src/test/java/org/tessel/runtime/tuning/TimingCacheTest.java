package org.tessel.runtime.tuning;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

class TimingCacheTest {
    @TempDir Path dir;
    static final TimingCache.Environment H200 = new TimingCache.Environment("NVIDIA H200", "13000", Map.of("cudnn", "91400", "cublasLt", "130100"));

    @Test void roundTripsAtomicallyInAStableOrder() throws Exception {
        TimingCache c = new TimingCache(H200);
        c.put("Conv{...}@fp16", "cudnn.conv.implicit_precomp_gemm", new Measurement(12.5, 0.25, 21));
        c.put("Conv{...}@fp16", "cudnn.conv.winograd", new Measurement(10.0, 0.5, 21));
        c.put("Add{}@fp32", "tessel.eltwise.fused", new Measurement(3.0, 0.0, 21));
        Path f = dir.resolve("tc.txt");
        c.save(f);
        TimingCache back = TimingCache.read(f);
        assertEquals(c.entries(), back.entries());
        assertEquals(H200, back.environment());
        List<String> lines = Files.readAllLines(f);
        assertTrue(lines.get(lines.size() - 3).startsWith("Add{}@fp32\t"), "entries sorted by key: " + lines);
        try (var files = Files.list(dir)) {
            assertEquals(List.of("tc.txt"), files.map(p -> p.getFileName().toString()).filter(n -> !n.equals(".tc.txt.lock")).toList(), "no temporary file is left");
        }
    }

    @Test void aKeyWrittenTwiceIsRefusedNamingBothLines() throws Exception {
        TimingCache c = new TimingCache(H200);
        c.put("Conv{}(f32[1,3,8,8])->f32[1,4,8,8]@FP16", "cudnn.conv.fused_bias_act/IMPLICIT_PRECOMP_GEMM", new Measurement(10, 1, 5));
        Path f = dir.resolve("c.txt");
        c.save(f);
        java.util.List<String> lines = new java.util.ArrayList<>(java.nio.file.Files.readAllLines(f));
        String entry = lines.getLast();
        lines.add(entry.replace("10.0000", "2.0000"));
        java.nio.file.Files.write(f, lines);
        var ex = assertThrows(TimingCache.MismatchException.class, () -> TimingCache.read(f));
        assertTrue(ex.getMessage().contains(":" + lines.size() + ": the entry for ") && ex.getMessage().contains("given twice (first at line " + (lines.size() - 1) + ")"), ex.getMessage());
        lines.removeLast();
        lines.add(1, lines.stream().filter(l -> l.startsWith("gpu=")).findFirst().orElseThrow());
        java.nio.file.Files.write(f, lines);
        var hx = assertThrows(TimingCache.MismatchException.class, () -> TimingCache.read(f));
        assertTrue(hx.getMessage().contains("header key 'gpu' is given twice"), hx.getMessage());
    }

    @Test void buildsSharingOneCacheFileKeepEachOthersMeasurements() throws Exception {
        // each writer read the file before the others saved; saving merges, so nothing is lost and nothing fails
        Path f = dir.resolve("shared.cache");
        int writers = 6;
        java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(writers);
        List<java.util.concurrent.Future<?>> done = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            int id = w;
            done.add(pool.submit(() -> {
                start.await();
                for (int round = 0; round < 5; round++) {
                    TimingCache c = new TimingCache(H200);
                    c.put("Conv{w" + id + "}@fp16", "t" + round, new Measurement(id + round, 0.1, 21));
                    c.save(f);
                }
                return null;
            }));
        }
        start.countDown();
        for (var d : done) d.get();
        pool.shutdown();
        TimingCache back = TimingCache.read(f);
        assertEquals(writers * 5, back.size(), "every writer's every entry: " + back.entries().keySet());
        try (var files = Files.list(dir)) {
            assertEquals(List.of(".shared.cache.lock", "shared.cache"), files.map(p -> p.getFileName().toString()).sorted().toList(), "no temporary files left");
        }
    }

    @Test void aCacheFromAnotherEnvironmentIsReportedNotUsed() throws Exception {
        TimingCache c = new TimingCache(H200);
        c.put("sig", "t", new Measurement(1, 0, 3));
        Path f = dir.resolve("tc.txt");
        c.save(f);
        var h100 = new TimingCache.Environment("NVIDIA H100 80GB HBM3", "13000", Map.of("cudnn", "91400", "cublasLt", "130100"));
        List<String> said = new ArrayList<>();
        TimingCache used = TimingCache.loadFor(f, h100, said::add);
        assertEquals(0, used.size());
        assertEquals(List.of("timing cache " + f + " was measured elsewhere (GPU NVIDIA H200 vs NVIDIA H100 80GB HBM3); not using its 1 entries"), said);
        said.clear();
        assertEquals(1, TimingCache.loadFor(f, H200, said::add).size());
        assertTrue(said.isEmpty());
        var newerCudnn = new TimingCache.Environment("NVIDIA H200", "13000", Map.of("cudnn", "91500", "cublasLt", "130100"));
        TimingCache.loadFor(f, newerCudnn, said::add);
        assertTrue(said.get(0).contains("cudnn 91400 vs 91500"), said.toString());
    }

    @Test void mergesPreferringBetterMeasurementsAndRefusesForeignCaches() {
        TimingCache a = new TimingCache(H200), b = new TimingCache(H200);
        a.put("s", "x", new Measurement(10, 1, 5));
        b.put("s", "x", new Measurement(11, 1, 21));
        b.put("s", "y", new Measurement(9, 1, 21));
        a.merge(b);
        assertEquals(2, a.size());
        assertEquals(21, a.get("s", "x").orElseThrow().runs());
        var other = new TimingCache(new TimingCache.Environment("NVIDIA L4", "13000", Map.of()));
        var ex = assertThrows(TimingCache.MismatchException.class, () -> a.merge(other));
        assertTrue(ex.getMessage().startsWith("cannot merge timing caches from different environments: GPU NVIDIA H200 vs NVIDIA L4"), ex.getMessage());
    }

    @Test void malformedFilesNameTheLine() throws Exception {
        Path f = dir.resolve("bad.txt");
        Files.writeString(f, TimingCache.HEADER + "\ngpu=X\ndriver=1\nsig\ttactic\tfast\t0\t3\n");
        var ex = assertThrows(TimingCache.MismatchException.class, () -> TimingCache.read(f));
        assertTrue(ex.getMessage().startsWith(f + ":4: bad measurement"), ex.getMessage());
        Files.writeString(f, "hello\n");
        assertEquals(f + ":1: not a Tessel timing cache (expected '# tessel timing cache v1')",
                assertThrows(TimingCache.MismatchException.class, () -> TimingCache.read(f)).getMessage());
    }

    @Test void signaturesIgnoreNamesButNotShapesOrPrecision() {
        NetworkBuilder b = new NetworkBuilder("g");
        Value x = b.input("x", DType.F32, 1, 8, 4, 4);
        Value c1 = b.conv(x, b.randomWeights("w1", 8, 8, 3, 3), null, 1, 1);
        Value c2 = b.conv(c1, b.randomWeights("w2", 8, 8, 3, 3), null, 1, 1);
        Value c3 = b.conv(c2, b.randomWeights("w3", 8, 8, 3, 3), null, 2, 1);
        Graph g = b.output(c3).build();
        String s1 = TimingCache.signature(g.nodes().get(0), "fp16"), s2 = TimingCache.signature(g.nodes().get(1), "fp16");
        assertEquals(s1, s2, "identical layers share one entry");
        assertNotEquals(s1, TimingCache.signature(g.nodes().get(2), "fp16"), "stride differs");
        assertNotEquals(s1, TimingCache.signature(g.nodes().get(0), "fp32"));
    }

    @Test void timerTakesMedianAndNoiseAndBreaksNearTiesByName() {
        double[] script = {100, 100, 5, 6, 7, 5, 6, 50, 6};
        int[] k = {0};
        List<Integer> buffers = new ArrayList<>();
        Measurement m = new TacticTimer(2, 7, 3).time(buf -> { buffers.add(buf); return script[k[0]++]; });
        assertEquals(6.0, m.medianUs());
        assertEquals(1.0, m.madUs());
        assertEquals(List.of(0, 1, 2, 0, 1, 2, 0, 1, 2), buffers, "input buffers rotate");
        Map<String, Measurement> t = new LinkedHashMap<>();
        t.put("b.fast", new Measurement(10.0, 0.5, 21));
        t.put("a.slightly-slower", new Measurement(10.3, 0.4, 21));
        t.put("c.slow", new Measurement(20, 0.1, 21));
        assertEquals("a.slightly-slower", TacticTimer.fastest(t), "within noise: the smaller id wins, deterministically");
        t.put("a.slightly-slower", new Measurement(11, 0.4, 21));
        assertEquals("b.fast", TacticTimer.fastest(t));
    }
}

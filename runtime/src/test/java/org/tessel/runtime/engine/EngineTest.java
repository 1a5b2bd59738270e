package org.tessel.runtime.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;

class EngineTest {
    @TempDir Path dir;

    private static Graph optimizedTinyResNet() {
        Graph g = Zoo.build("resnet50-tiny", ZooOptions.defaults());
        new PassManager().run(g, StandardPipelines.STANDARD);
        return g;
    }

    private static Tensor input(Graph g, long seed) {
        return new NetworkBuilder("in", OpRegistry.global(), seed).randomUniform(g.inputs().get(0).type().shape(), -1, 1);
    }

    @Test void savedEngineLoadsAndGivesTheSameOutputsAsTheReference() throws Exception {
        Graph reference = Zoo.build("resnet50-tiny", ZooOptions.defaults());
        Graph g = optimizedTinyResNet();
        Engine e = Engine.buildCpu(g);
        Path f = dir.resolve("tiny.engine");
        e.save(f);
        Engine loaded = Engine.load(f, EngineHeader.Machine.cpu());
        assertEquals(e.layers(), loaded.layers());
        assertEquals(e.arenaBytes(), loaded.arenaBytes());
        Tensor x = input(g, 3);
        Tensor want = new ReferenceInterpreter().run(reference, List.of(x)).get(0);
        Tensor got = loaded.createContext().run(List.of(x)).get(0);
        for (int i = 0; i < want.size(); i++) assertEquals(want.getDouble(i), got.getDouble(i), 1e-5 + 1e-4 * Math.abs(want.getDouble(i)));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(f), files.toList(), "atomic write leaves no temporary file");
        }
    }

    @Test void corruptTruncatedForeignAndOldFilesAreRefusedClearly() throws Exception {
        Engine e = Engine.buildCpu(optimizedTinyResNet());
        Path f = dir.resolve("e.engine");
        e.save(f);
        byte[] good = Files.readAllBytes(f);

        byte[] flipped = good.clone();
        flipped[good.length - 10] ^= 0x40;
        Files.write(f, flipped);
        assertTrue(load(f).startsWith(f + ": checksum mismatch: the payload is corrupt"), load(f));

        Files.write(f, java.util.Arrays.copyOf(good, good.length - 100));
        assertTrue(load(f).contains(": truncated: the header promises"), load(f));

        Files.write(f, java.util.Arrays.copyOf(good, 20));
        assertTrue(load(f).contains("truncated inside the header"), load(f));

        Files.write(f, "graph @g() { return }".getBytes());
        assertEquals(f + ": not a Tessel engine file (its first bytes are not the engine magic)", load(f));

        byte[] newer = good.clone();
        newer[EngineFile.MAGIC.length + 3] = 9; // format version 9
        Files.write(f, newer);
        assertEquals(f + ": engine format version 9, this Tessel reads version 1; rebuild the engine", load(f));

        Files.write(f, good);
        EngineFormatException ex = assertThrows(EngineFormatException.class,
                () -> Engine.load(f, new EngineHeader.Machine("gpu", "sm_90", Map.of("cudnn", "91400"))));
        assertEquals(f + ": cannot run here: engine was built for the cpu backend, this machine runs gpu; rebuild the engine on this machine", ex.getMessage());
        assertEquals(dir.resolve("missing.engine") + ": no such engine file", load(dir.resolve("missing.engine")));
    }

    private static String load(Path f) {
        return assertThrows(EngineFormatException.class, () -> Engine.load(f, EngineHeader.Machine.cpu())).getMessage();
    }

    @Test void wrongInputsAreNamed() {
        Engine e = Engine.buildCpu(optimizedTinyResNet());
        ExecutionContext c = e.createContext();
        EngineRunException ex = assertThrows(EngineRunException.class, () -> c.run(List.of(Tensor.zeros(DType.F32, Shape.of(2, 3, 32, 32)))));
        assertEquals("input %input must be f32[1,3,32,32], got f32[2,3,32,32] (the engine was built for batch 1; rebuild it with --batch 2)", ex.getMessage());
        ex = assertThrows(EngineRunException.class, () -> c.run(List.of(Tensor.zeros(DType.F16, Shape.of(1, 3, 32, 32)))));
        assertEquals("input %input must be f32[1,3,32,32], got f16[1,3,32,32]", ex.getMessage());
        ex = assertThrows(EngineRunException.class, () -> c.run(Map.of("image", Tensor.zeros(DType.F32, Shape.of(1, 3, 32, 32)))));
        assertTrue(ex.getMessage().startsWith("missing input %input"), ex.getMessage());
    }

    @Test void severalContextsRunFromSeveralThreads() throws Exception {
        Engine e = Engine.buildCpu(optimizedTinyResNet());
        Tensor x = input(e.graph(), 5);
        Tensor want = e.createContext().run(List.of(x)).get(0);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Tensor>> fs = new java.util.ArrayList<>();
            for (int t = 0; t < 8; t++) fs.add(pool.submit(() -> {
                ExecutionContext c = e.createContext();
                Tensor out = null;
                for (int k = 0; k < 3; k++) out = c.run(List.of(x)).get(0);
                return out;
            }));
            for (Future<Tensor> f : fs) assertTrue(want.dataEquals(f.get()));
        } finally {
            pool.shutdown();
        }
    }

    @Test void profilerReportsEveryLayerAsJson() {
        Engine e = Engine.buildCpu(optimizedTinyResNet());
        ExecutionContext c = e.createContext().profiling(true);
        Tensor x = input(e.graph(), 6);
        for (int i = 0; i < 3; i++) c.run(List.of(x));
        String json = c.layerInfoJson();
        assertTrue(json.contains("\"profiled_runs\": 3"), json);
        assertEquals(e.layers().size(), json.split("\"tactic\": \"cpu.reference\"").length - 1);
        assertTrue(c.layerTimes().stream().mapToDouble(ExecutionContext.LayerTime::meanMs).sum() > 0);
        assertTrue(json.contains("\"op\": \"tessel.Fused\""), "fused layers are reported as such");
    }
}

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

    /**
     * Float8 constants other than E4M3 in an engine file: an e5m2 weight with an infinity and an
     * e4m3fnuz one are dequantized and added to x cast through e5m2 (saturate=0); the saved engine
     * keeps every code (the infinity, -0) and computes what the reference does.
     */
    @Test void float8ConstantsOfEveryTypeSurviveTheEngineFile() throws Exception {
        Graph g = new Graph("f8");
        var ops = OpRegistry.global();
        var x = g.addInput("x", org.tessel.api.TensorType.of(DType.F32, Shape.of(4)));
        var one = g.addConstant("one", Tensor.ofFloats(Shape.scalar(), 1f));
        var w5 = g.addConstant("w5", Tensor.ofFloats(DType.F8E5M2, Shape.of(4), new float[] {0.75f, Float.POSITIVE_INFINITY, -0f, -57344f}));
        var wz = g.addConstant("wz", Tensor.ofFloats(DType.F8E4M3FNUZ, Shape.of(4), new float[] {240f, 0.5f, -3f, 0.0625f}));
        var c = g.addNode(ops.get("", "Cast"), "c", List.of(x), org.tessel.api.Attributes.empty().with("to", org.tessel.api.AttrValue.of(19L))
                .with("saturate", org.tessel.api.AttrValue.of(0L)), 1);
        var back = g.addNode(ops.get("", "Cast"), "back", List.of(c.output(0)), org.tessel.api.Attributes.empty().with("to", org.tessel.api.AttrValue.of(1L)), 1);
        var d5 = g.addNode(ops.get("", "DequantizeLinear"), "d5", List.of(w5, one), org.tessel.api.Attributes.empty(), 1);
        var dz = g.addNode(ops.get("", "DequantizeLinear"), "dz", List.of(wz, one), org.tessel.api.Attributes.empty(), 1);
        var s1 = g.addNode(ops.get("", "Add"), "s1", List.of(back.output(0), d5.output(0)), org.tessel.api.Attributes.empty(), 1);
        var s2 = g.addNode(ops.get("", "Add"), "s2", List.of(s1.output(0), dz.output(0)), org.tessel.api.Attributes.empty(), 1);
        g.setOutputs(List.of(s2.output(0)));
        Path f = dir.resolve("f8.engine");
        Engine.buildCpu(g.copy()).save(f);
        Engine loaded = Engine.load(f, EngineHeader.Machine.cpu());
        Tensor in = Tensor.ofFloats(Shape.of(4), 0.3f, 1f, 1e6f, -2f);
        Tensor want = new ReferenceInterpreter().run(g, List.of(in)).get(0), got = loaded.createContext().run(List.of(in)).get(0);
        // 0.3 -> 0.3125 (e5m2) + 0.75 + 240; 1 + inf + 0.5; 1e6 -> inf (saturate=0) + -0 - 3; -2 - 57344 + 0.0625
        assertArrayEquals(new float[] {0.3125f + 0.75f + 240f, Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY, -2f - 57344f + 0.0625f}, want.floats());
        assertArrayEquals(want.floats(), got.floats());
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

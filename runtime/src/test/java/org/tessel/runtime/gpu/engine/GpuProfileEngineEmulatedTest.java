package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.EngineRunException;
import org.tessel.runtime.engine.profile.OptimizationProfile;
import org.tessel.runtime.engine.profile.ProfileSet;
import org.tessel.runtime.engine.profile.ShapeSpecializer;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.ir.onnx.OnnxTensors;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.OperatorSetIdProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.TypeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;

/**
 * The GPU profile engine on the emulated device (a CPU test: what runs and what is shared, never speed):
 * an MLP with two batch profiles whose plans run Tessel's own kernels, at several shapes inside each,
 * against the reference interpreter at that shape; one arena per profile bound by every shape's engine;
 * weights uploaded once; a bounded cache of CUDA graphs that evicts; a model whose Reshape target comes
 * from Shape(x) re-imported per shape and still right; and a shape outside every profile refused.
 */
class GpuProfileEngineEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    /** x[1,16] -> MatMul 16x32 + b -> Relu -> MatMul 32x8 + b -> Softmax: every value scales with the batch. */
    static Graph mlp() {
        NetworkBuilder b = new NetworkBuilder("mlp");
        Value x = b.input("x", DType.F32, 1, 16);
        Value h = b.relu(b.add(b.matmul(x, b.uniformWeights("w1", -0.5f, 0.5f, 16, 32)), b.uniformWeights("b1", -0.1f, 0.1f, 32)));
        b.output(b.name("y").softmax(b.add(b.matmul(h, b.uniformWeights("w2", -0.5f, 0.5f, 32, 8)), b.uniformWeights("b2", -0.1f, 0.1f, 8)), -1));
        return b.build();
    }

    private static Tensor random(Shape s, long seed) { return GpuTestSupport.random(new SplittableRandom(seed), DType.F32, s, -1, 1); }

    /** The reference interpreter on the model imported at this batch. */
    private static Tensor reference(ShapeSpecializer src, Map<String, Tensor> in) {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        in.forEach((k, t) -> shapes.put(k, t.shape()));
        Graph g = src.importAt(shapes, "reference");
        return GpuTestSupport.reference(g, in).get(g.outputs().getFirst().name());
    }

    @Test void shapesInsideOneProfileAndAcrossTwoMatchTheReferenceSharingOneArenaPerProfileAndTheWeights() {
        ShapeSpecializer src = new ShapeSpecializer(OnnxExporter.toModel(mlp()), "mlp");
        ProfileSet set = ProfileEngines.solve(src, List.of(
                ProfileEngines.profile(0, "x", Shape.of(1, 16), Shape.of(4, 16), Shape.of(8, 16)),
                ProfileEngines.profile(1, "x", Shape.of(9, 16), Shape.of(16, 16), Shape.of(32, 16))), "joint", ProfileEngines.tesselOnly(org.tessel.cost.Precision.FP32));
        assertEquals(null, set.shapeDependence(0), "the MLP is shape-generic");
        try (GpuProfileEngine pe = new GpuProfileEngine(set, ctx, 8, null)) {
            long arena0 = 0, arena1 = 0;
            int uploadsAfterFirst = -1;
            for (int n : new int[] {3, 1, 8, 5, 12, 32, 9}) {
                Map<String, Tensor> in = Map.of("x", random(Shape.of(n, 16), n));
                GpuProfileEngine.Specialisation s = pe.specialise(Map.of("x", in.get("x").shape()));
                assertEquals(n <= 8 ? 0 : 1, s.profile(), "batch " + n);
                assertFalse(s.cached());
                assertTrue(s.cost().contains("shape inference") && s.cost().contains("engine") && s.cost().contains("CUDA graph"), s.cost());
                assertTrue(s.engine().layerPlans().stream().allMatch(l -> l.tactic().startsWith("tessel.")), "Tessel kernels: " + s.engine().layerPlans());
                assertTrue(s.engine().bindsProfileArena(), "batch " + n + " binds its profile's arena");
                Tensor got = output(s.context().run(in));
                GpuTestSupport.assertClose("profile engine batch " + n + " (emulated)", got, reference(src, in), 1e-5);
                ProfileDeviceMemory.Arena a = pe.memory().arenaOf(s.profile());
                long address = a.arenaAddress();
                if (s.profile() == 0) { if (arena0 == 0) arena0 = address; else assertEquals(arena0, address, "profile 0's arena is not reallocated"); }
                else { if (arena1 == 0) arena1 = address; else assertEquals(arena1, address, "profile 1's arena is not reallocated"); }
                assertEquals(3, a.allocations(), "one arena, one input buffer, one workspace per profile, whatever the shapes");
                assertEquals(0, a.ownArenas());
                if (uploadsAfterFirst < 0) uploadsAfterFirst = pe.memory().weightUploads();
                else if (s.profile() == 0) assertEquals(uploadsAfterFirst, pe.memory().weightUploads(), "no weight uploaded again at batch " + n);
            }
            assertTrue(arena0 != arena1, "each profile has its own arena");
            // a cached shape runs its captured graph again
            GpuProfileEngine.Specialisation again = pe.specialise(Map.of("x", Shape.of(3, 16)));
            assertTrue(again.cached() && again.context().isCaptured());
            Map<String, Tensor> in = Map.of("x", random(Shape.of(3, 16), 99));
            GpuTestSupport.assertClose("cached batch 3 (emulated)", output(pe.run(in)), reference(src, in), 1e-5);
        }
    }

    @Test void theCacheOfCapturedGraphsIsBoundedAndEvictsTheLeastRecentlyUsed() {
        ShapeSpecializer src = new ShapeSpecializer(OnnxExporter.toModel(mlp()), "mlp");
        ProfileSet set = ProfileEngines.solve(src, List.of(ProfileEngines.profile(0, "x", Shape.of(1, 16), Shape.of(4, 16), Shape.of(8, 16))), "rule",
                ProfileEngines.tesselOnly(org.tessel.cost.Precision.FP32));
        try (GpuProfileEngine pe = new GpuProfileEngine(set, ctx, 3, null)) {
            GpuExecutionContext first = pe.specialise(Map.of("x", Shape.of(1, 16))).context();
            for (int n = 2; n <= 5; n++) pe.specialise(Map.of("x", Shape.of(n, 16)));
            assertEquals(3, pe.cached());
            assertEquals(2, pe.evictions());
            assertThrows(GpuEngineException.class, first::enqueue, "an evicted shape's context and CUDA graph are freed");
            assertFalse(pe.specialise(Map.of("x", Shape.of(1, 16))).cached(), "batch 1 was evicted and is specialised again");
            assertTrue(pe.specialise(Map.of("x", Shape.of(5, 16))).cached(), "batch 5 was used last but one");
            assertEquals(6, pe.specialisations());
            assertEquals(3, pe.memory().arenaOf(0).allocations(), "evictions and new shapes allocate no activation memory");
        }
    }

    private static ValueInfoProto tensor(String name, Object... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (Object d : dims) s.addDim(d instanceof String p ? TensorShapeProto.Dimension.newBuilder().setDimParam(p) : TensorShapeProto.Dimension.newBuilder().setDimValue((Integer) d));
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(s))).build();
    }

    private static NodeProto node(String op, List<String> in, String out, long axis) {
        NodeProto.Builder b = NodeProto.newBuilder().setName(out).setOpType(op).addAllInput(in).addOutput(out);
        if (axis != Long.MIN_VALUE) b.addAttribute(AttributeProto.newBuilder().setName("axis").setType(AttributeProto.AttributeType.INT).setI(axis));
        return b.build();
    }

    /**
     * y = softmax(reshape(relu(x @ W + b), [Shape(x)[0], -1])) with x: [N, 4, 8]: the Reshape target comes from
     * Shape(x), as exporters write it for a symbolic batch, and is folded at import; so a new shape is a new import,
     * which stays right at each shape.
     */
    @Test void aShapeDependentModelIsImportedAgainPerShapeAndStaysRight() {
        long none = Long.MIN_VALUE;
        GraphProto.Builder g = GraphProto.newBuilder().setName("shape_dependent").addInput(tensor("x", "N", 4, 8)).addOutput(tensor("y", "N", 16))
                .addInitializer(OnnxTensors.toProto(random(Shape.of(8, 4), 1), "W"))
                .addInitializer(OnnxTensors.toProto(random(Shape.of(4), 2), "b"))
                .addInitializer(OnnxTensors.toProto(Tensor.ofLongs(DType.I64, Shape.of(1), 0), "zero"))
                .addInitializer(OnnxTensors.toProto(Tensor.ofLongs(DType.I64, Shape.of(1), -1), "minus_one"))
                .addNode(node("MatMul", List.of("x", "W"), "h", none))
                .addNode(node("Add", List.of("h", "b"), "hb", none))
                .addNode(node("Relu", List.of("hb"), "r", none))
                .addNode(node("Shape", List.of("x"), "sx", none))
                .addNode(node("Gather", List.of("sx", "zero"), "n", 0))
                .addNode(node("Concat", List.of("n", "minus_one"), "target", 0))
                .addNode(node("Reshape", List.of("r", "target"), "flat", none))
                .addNode(node("Softmax", List.of("flat"), "y", -1));
        ModelProto m = ModelProto.newBuilder().setIrVersion(10).addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(21)).setGraph(g).build();
        ShapeSpecializer src = new ShapeSpecializer(m, "shape_dependent.onnx");
        ProfileSet set = ProfileEngines.solve(src, List.of(ProfileEngines.profile(0, "x", Shape.of(1, 4, 8), Shape.of(2, 4, 8), Shape.of(6, 4, 8))), "joint",
                ProfileEngines.tesselOnly(org.tessel.cost.Precision.FP32));
        assertNotNull(set.shapeDependence(0), "the folded Reshape target depends on the batch");
        try (GpuProfileEngine pe = new GpuProfileEngine(set, ctx, 8, null)) {
            for (int batch : new int[] {1, 5, 2, 6}) {
                Map<String, Tensor> in = Map.of("x", random(Shape.of(batch, 4, 8), batch));
                GpuProfileEngine.Specialisation s = pe.specialise(Map.of("x", in.get("x").shape()));
                assertTrue(s.cost().contains("import") && s.cost().contains("passes"), "a new import: " + s.cost());
                Tensor got = output(s.context().run(in));
                assertEquals(Shape.of(batch, 16), got.shape());
                GpuTestSupport.assertClose("shape-dependent batch " + batch + " (emulated)", got, reference(src, in), 1e-5);
            }
            assertEquals(3, pe.memory().arenaOf(0).allocations(), "re-imported shapes bind the profile's arena too");
            assertEquals(0, pe.memory().arenaOf(0).ownArenas());
        }
    }

    /** The model's one output. */
    private static Tensor output(Map<String, Tensor> outs) {
        assertEquals(1, outs.size(), "one output: " + outs.keySet());
        return outs.values().iterator().next();
    }

    @Test void shapesOutsideEveryProfileOrOfTheWrongRankOrInputAreRefusedNamingThem() {
        ShapeSpecializer src = new ShapeSpecializer(OnnxExporter.toModel(mlp()), "mlp");
        ProfileSet set = ProfileEngines.solve(src, List.of(
                ProfileEngines.profile(0, "x", Shape.of(1, 16), Shape.of(4, 16), Shape.of(8, 16)),
                ProfileEngines.profile(1, "x", Shape.of(16, 16), Shape.of(16, 16), Shape.of(32, 16))), "rule", ProfileEngines.tesselOnly(org.tessel.cost.Precision.FP32));
        try (GpuProfileEngine pe = new GpuProfileEngine(set, ctx, 8, null)) {
            String m = assertThrows(EngineRunException.class, () -> pe.specialise(Map.of("x", Shape.of(12, 16)))).getMessage();
            assertEquals("shape x:12x16 is outside every profile of this engine: profile 0 (x:1x16..4x16..8x16); profile 1 (x:16x16..16x16..32x16); "
                    + "input 'x' dimension 0 = 12 is outside 1..8 in profile 0, input 'x' dimension 0 = 12 is outside 16..32 in profile 1; rebuild with a profile that holds it", m);
            m = assertThrows(EngineRunException.class, () -> pe.specialise(Map.of("x", Shape.of(2, 16, 1)))).getMessage();
            assertTrue(m.contains("input 'x' has 2 dimensions") && m.contains("has 3"), m);
            m = assertThrows(EngineRunException.class, () -> pe.specialise(Map.of("x", Shape.of(2, 17)))).getMessage();
            assertTrue(m.contains("dimension 1 of input 'x' is fixed at 16"), m);
            m = assertThrows(EngineRunException.class, () -> pe.specialise(Map.of("x", Shape.of(2, 16), "z", Shape.of(1)))).getMessage();
            assertTrue(m.contains("has no input 'z'"), m);
            assertEquals(0, pe.specialisations(), "nothing is built for a refused shape");
        }
    }

    @Test void theMemoryMeasuredAtMaxRoundTripsWithTheProfilesThroughTheEngineFilesBlobs() {
        ShapeSpecializer src = new ShapeSpecializer(OnnxExporter.toModel(mlp()), "mlp");
        ProfileSet set = GpuProfileEngine.measured(ProfileEngines.solve(src, List.of(ProfileEngines.profile(0, "x", Shape.of(1, 16), Shape.of(4, 16), Shape.of(8, 16))), "rule",
                ProfileEngines.tesselOnly(org.tessel.cost.Precision.FP32)), ctx, null);
        assertTrue(set.maxMemory(0).arenaBytes() >= 8 * 32 * 4, "measured at max: at least the largest activation, [8, 32] f32: " + set.maxMemory(0));
        ProfileSet back = ProfileSet.read(set.blobs(), "mlp.engine");
        assertEquals(set.profiles(), back.profiles());
        assertEquals(org.tessel.tactics.plan.EnginePlanJson.write(set.plan(0)), org.tessel.tactics.plan.EnginePlanJson.write(back.plan(0)));
        assertEquals(set.maxMemory(0), back.maxMemory(0));
        Map<String, Tensor> in = Map.of("x", random(Shape.of(6, 16), 6));
        try (GpuProfileEngine pe = new GpuProfileEngine(back, ctx, 8, null)) {
            GpuTestSupport.assertClose("read back, batch 6 (emulated)", output(pe.run(in)), reference(src, in), 1e-5);
            assertEquals(0, pe.memory().arenaOf(0).ownWorkspaces());
            assertEquals(back.maxMemory(0).arenaBytes(), pe.specialise(Map.of("x", Shape.of(8, 16))).engine().arenaBytes(), "the arena every shape binds is the one measured at max");
            assertEquals(back.maxMemory(0).arenaBytes(), pe.specialise(Map.of("x", Shape.of(2, 16))).engine().arenaBytes());
        }
        assertTrue(OnnxImporter.importModel(back.source().model(), "mlp", OnnxImporter.Options.defaults()).nodes().size() > 0);
    }
}

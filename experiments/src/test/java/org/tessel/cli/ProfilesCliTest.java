package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.onnx.OnnxTensors;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.OperatorSetIdProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.TypeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.runtime.engine.EngineRunException;
import org.tessel.runtime.engine.profile.ProfileEngine;

/**
 * Optimization profiles end to end on the CPU: `tessel build --min/--opt/--max-shapes` on an ONNX
 * model with symbolic dimensions (and on a real model with a fixed batch of 1), `tessel run
 * --shapes` inside and outside the profiles, the engines each shape gets against the reference
 * interpreter on the model imported at that shape, the cache, and every refusal.
 */
class ProfilesCliTest {
    @TempDir Path dir;
    private Path model;

    private static ValueInfoProto tensor(String name, Object... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (Object d : dims) s.addDim(d instanceof String p ? TensorShapeProto.Dimension.newBuilder().setDimParam(p) : TensorShapeProto.Dimension.newBuilder().setDimValue((Integer) d));
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(s))).build();
    }

    private static NodeProto node(String op, List<String> in, String out, AttributeProto... attrs) {
        NodeProto.Builder b = NodeProto.newBuilder().setName(out).setOpType(op).addAllInput(in).addOutput(out);
        for (AttributeProto a : attrs) b.addAttribute(a);
        return b.build();
    }

    private static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    private static Tensor random(Shape s, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Tensor t = Tensor.zeros(org.tessel.api.DType.F32, s);
        for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble(-1, 1));
        return t;
    }

    /**
     * y = softmax(reshape(relu((x * m) @ W + b), [N, -1])) with x: [N, L, 8] and m: [N, L, 1]: the
     * reshape's target comes from Shape(x), as exporters write it for a symbolic batch.
     */
    @BeforeEach void writeModel() throws Exception {
        GraphProto.Builder g = GraphProto.newBuilder().setName("symbolic")
                .addInput(tensor("x", "N", "L", 8)).addInput(tensor("m", "N", "L", 1)).addOutput(tensor("y", "N", "L4"))
                .addInitializer(OnnxTensors.toProto(random(Shape.of(8, 4), 1), "W"))
                .addInitializer(OnnxTensors.toProto(random(Shape.of(4), 2), "b"))
                .addInitializer(OnnxTensors.toProto(Tensor.ofLongs(org.tessel.api.DType.I64, Shape.of(1), 0), "zero"))
                .addInitializer(OnnxTensors.toProto(Tensor.ofLongs(org.tessel.api.DType.I64, Shape.of(1), -1), "minus_one"))
                .addNode(node("Mul", List.of("x", "m"), "xm"))
                .addNode(node("MatMul", List.of("xm", "W"), "h"))
                .addNode(node("Add", List.of("h", "b"), "hb"))
                .addNode(node("Relu", List.of("hb"), "r"))
                .addNode(node("Shape", List.of("x"), "sx"))
                .addNode(node("Gather", List.of("sx", "zero"), "n", intAttr("axis", 0)))
                .addNode(node("Concat", List.of("n", "minus_one"), "target", intAttr("axis", 0)))
                .addNode(node("Reshape", List.of("r", "target"), "flat"))
                .addNode(node("Softmax", List.of("flat"), "y", intAttr("axis", -1)));
        ModelProto m = ModelProto.newBuilder().setIrVersion(10).addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(21)).setGraph(g).build();
        model = dir.resolve("symbolic.onnx");
        Files.write(model, m.toByteArray());
    }

    private static String[] join(List<String> a, String... b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(List.of(b));
        return all.toArray(String[]::new);
    }

    /** Two profiles: small batches with sequences 4..32, and batches 8..16 with sequence 16. */
    private List<String> twoProfiles(Path engine) {
        return List.of("build", model.toString(), "--cpu", "--save-engine", engine.toString(),
                "--min-shapes", "x:1x4x8,m:1x4x1", "--opt-shapes", "x:2x16x8,m:2x16x1", "--max-shapes", "x:4x32x8,m:4x32x1",
                "--min-shapes", "x:8x16x8,m:8x16x1", "--opt-shapes", "x:8x16x8,m:8x16x1", "--max-shapes", "x:16x16x8,m:16x16x1");
    }

    private static Map<String, Shape> shapes(int n, int l) { return Map.of("x", Shape.of(n, l, 8), "m", Shape.of(n, l, 1)); }

    private List<Tensor> reference(int n, int l, List<Tensor> in) {
        Graph g = OnnxImporter.importModel(model, OnnxImporter.Options.defaults().withDim("N", n).withDim("L", l));
        return new ReferenceInterpreter().run(g, in);
    }

    @Test void anEngineWithTwoProfilesRunsShapesInsideEitherWithoutASearchAndComputesWhatTheModelDoes() {
        Path engine = dir.resolve("e.engine");
        CliRun b = CliRun.of(twoProfiles(engine).toArray(String[]::new));
        assertEquals(0, b.code(), b.out() + b.err());
        assertTrue(b.out().contains("profile 0: x:1x4x8..2x16x8..4x32x8, m:1x4x1..2x16x1..4x32x1; strategy joint"), b.out());
        assertTrue(b.out().contains("profile 1: x:8x16x8..8x16x8..16x16x8"), b.out());
        assertTrue(b.out().contains("2 optimization profile(s), source symbolic.onnx"), b.out());

        ProfileEngine pe = ProfileEngine.of(Engine.load(engine, EngineHeader.Machine.cpu()), engine.toString());
        assertEquals(2, pe.profiles().size());
        // the Reshape's target is folded from Shape(x) at import: a constant of each shape, so new shapes are imported again
        assertTrue(b.out().contains("new shapes: imported again (at opt and at min x:1x4x8,m:1x4x1: constant %"), b.out());
        assertNotNull(pe.set().shapeDependence(0));
        assertNotNull(pe.set().shapeDependence(1), "profile 1's min is its opt, its max differs");
        assertEquals(List.of(2, 16, 8), java.util.Arrays.stream(pe.base().graph().inputs().getFirst().type().shape().dims()).boxed().toList(), "the stored graph is profile 0 at opt");
        assertTrue(pe.set().maxMemory(1).arenaBytes() > pe.set().maxMemory(0).arenaBytes(), "memory is planned at each profile's max");
        for (int[] nl : new int[][] {{3, 12}, {1, 4}, {4, 32}, {10, 16}, {16, 16}}) {
            List<Tensor> in = List.of(random(Shape.of(nl[0], nl[1], 8), 7), random(Shape.of(nl[0], nl[1], 1), 8));
            ProfileEngine.Specialisation s = pe.specialise(shapes(nl[0], nl[1]));
            assertEquals(nl[0] >= 8 ? 1 : 0, s.profile(), "shape " + nl[0] + "x" + nl[1]);
            assertFalse(s.cached());
            assertTrue(s.planned().totalMs() > 0);
            assertFalse(s.planned().retyped(), "a shape-dependent profile imports each new shape");
            List<Tensor> got = s.engine().createContext().run(in);
            assertEquals(Shape.of(nl[0], nl[1] * 4), got.getFirst().shape());
            assertTrue(reference(nl[0], nl[1], in).getFirst().dataEquals(got.getFirst()), "shape " + nl[0] + "x" + nl[1] + " computes what the model imported at it does");
            assertTrue(pe.specialise(shapes(nl[0], nl[1])).cached(), "the second run of a shape uses the cache");
        }

        CliRun r = CliRun.of("run", engine.toString(), "--shapes", "x:3x12x8,m:3x12x1", "--shapes", "x:10x16x8,m:10x16x1", "--shapes", "x:3x12x8,m:3x12x1", "--iterations", "2", "--warmup", "0");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("shapes x:3x12x8,m:3x12x1, profile 0, first run of this shape: specialised in "), r.out());
        assertTrue(r.out().contains("no search"), r.out());
        assertTrue(r.out().contains("shapes x:10x16x8,m:10x16x1, profile 1, first run of this shape"), r.out());
        assertTrue(r.out().contains("shapes x:3x12x8,m:3x12x1, profile 0, engine from the cache"), r.out());
        assertTrue(r.out().contains("batch 10"), r.out());

        CliRun i = CliRun.of("inspect", engine.toString());
        assertEquals(0, i.code(), i.err());
        assertTrue(i.out().contains("optimization profiles: 2 over symbolic.onnx"), i.out());
        assertTrue(i.out().contains("  profile 1: x:8x16x8..8x16x8..16x16x8, m:8x16x1..8x16x1..16x16x1; plan joint"), i.out());
    }

    @Test void aShapeOutsideEveryProfileIsRefusedListingThem() {
        Path engine = dir.resolve("e.engine");
        assertEquals(0, CliRun.of(twoProfiles(engine).toArray(String[]::new)).code());
        for (String bad : List.of("x:5x16x8,m:5x16x1", "x:2x64x8,m:2x64x1", "x:10x12x8,m:10x12x1")) {
            CliRun r = CliRun.of("run", engine.toString(), "--shapes", bad);
            assertEquals(2, r.code(), bad + ": " + r.out());
            assertTrue(r.err().contains("shape " + bad + " is outside every profile of this engine: profile 0 (x:1x4x8..2x16x8..4x32x8, m:1x4x1..2x16x1..4x32x1); "
                    + "profile 1 (x:8x16x8..8x16x8..16x16x8, m:8x16x1..8x16x1..16x16x1)"), r.err());
        }
        CliRun r = CliRun.of("run", engine.toString(), "--shapes", "x:3x12x8");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("shape x:3x12x8: input 'm' has symbolic dimensions [N,L,1] in symbolic.onnx; give its shape"), r.err());
        CliRun c = CliRun.of("run", engine.toString(), "--shapes", "x:3x12x8,m:3x11x1");
        assertEquals(2, c.code());
        assertTrue(c.err().contains("shape x:3x12x8,m:3x11x1: dimension 'L' is 12 for input 'x' and 11 for input 'm'"), c.err());
        CliRun f = CliRun.of("run", engine.toString(), "--shapes", "x:3x12x9,m:3x12x1");
        assertEquals(2, f.code());
        assertTrue(f.err().contains("dimension 2 of input 'x' is fixed at 8"), f.err());
    }

    @Test void aShapeGenericProfileSpecialisesByShapeInferenceAndMatchesANewImport() {
        Path engine = dir.resolve("r.engine");
        CliRun b = CliRun.of("build", "zoo:resnet50-tiny", "--cpu", "--save-engine", engine.toString(),
                "--min-shapes", "input:1x3x32x32", "--opt-shapes", "input:2x3x32x32", "--max-shapes", "input:4x3x32x32");
        assertEquals(0, b.code(), b.out() + b.err());
        assertTrue(b.out().contains("new shapes: shape inference on the prepared graph"), b.out());
        ProfileEngine pe = ProfileEngine.of(Engine.load(engine, EngineHeader.Machine.cpu()), engine.toString());
        assertNull(pe.set().shapeDependence(0));
        Map<String, Shape> three = Map.of("input", Shape.of(3, 3, 32, 32));
        ProfileEngine.Specialisation s = pe.specialise(three);
        assertTrue(s.planned().retyped());
        assertTrue(s.preparedMs() > 0, "the first new shape makes the profile's prepared graph");
        assertEquals(0, pe.specialise(Map.of("input", Shape.of(4, 3, 32, 32))).preparedMs(), "once");
        List<Tensor> in = List.of(random(Shape.of(3, 3, 32, 32), 3));
        Tensor inferred = s.engine().createContext().run(in).getFirst();
        var src = new org.tessel.runtime.engine.profile.ShapeSpecializer(org.tessel.ir.onnx.OnnxExporter.toModel(
                org.tessel.ir.zoo.Zoo.build("resnet50-tiny", org.tessel.ir.zoo.ZooOptions.defaults())), "zoo:resnet50-tiny");
        Tensor imported = cpuEngine(src.planByImport(three, org.tessel.search.Searcher.PIPELINE, pe.set().plan(0), "test").applied()).createContext().run(in).getFirst();
        assertTrue(imported.dataEquals(inferred), "shape inference gives the engine a new import gives");
        Graph reference = org.tessel.ir.zoo.Zoo.build("resnet50-tiny", org.tessel.ir.zoo.ZooOptions.defaults().withBatch(3));
        assertNull(Compare.allClose(new ReferenceInterpreter().run(reference, in).getFirst(), inferred, 1e-4, 1e-5), "against the zoo model built at batch 3");
    }

    @Test void theCacheKeepsTheLastEightShapes() {
        Path engine = dir.resolve("e.engine");
        assertEquals(0, CliRun.of(twoProfiles(engine).toArray(String[]::new)).code());
        ProfileEngine pe = ProfileEngine.of(Engine.load(engine, EngineHeader.Machine.cpu()), engine.toString());
        for (int l = 4; l <= 12; l++) assertFalse(pe.specialise(shapes(1, l)).cached(), "sequence " + l);
        assertEquals(ProfileEngine.CACHE_SIZE, pe.cached());
        assertTrue(pe.specialise(shapes(1, 12)).cached());
        assertFalse(pe.specialise(shapes(1, 4)).cached(), "the least recently used shape was evicted");
        assertThrows(EngineRunException.class, () -> pe.specialise(shapes(100, 4)));
    }

    private void refused(List<String> args, String fragment) {
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertEquals(2, r.code(), String.join(" ", args) + "\n" + r.out());
        assertTrue(r.err().contains(fragment), "expected '" + fragment + "' in: " + r.err());
        assertFalse(r.err().contains("\tat "), r.err());
    }

    private List<String> build(String min, String opt, String max, String... more) {
        List<String> a = new ArrayList<>(List.of("build", model.toString(), "--cpu", "--save-engine", dir.resolve("bad.engine").toString(),
                "--min-shapes", min, "--opt-shapes", opt, "--max-shapes", max));
        a.addAll(List.of(more));
        return a;
    }

    @Test void badProfilesAreRefusedNamingTheProfileTheInputAndTheDimension() {
        refused(build("x:1x4x8,m:1x4x1", "x:2x2x8,m:2x2x1", "x:4x32x8,m:4x32x1"), "profile 0: input 'x' dimension 1 must have min <= opt <= max, got 4, 2, 32");
        refused(build("x:1x4x8,m:1x4x1", "x:2x16x8,m:2x16x1", "x:4x32,m:4x32x1"), "profile 0: input 'x' has rank 3 at min, 3 at opt and 2 at max");
        refused(build("x:1x4x8,m:1x4x1", "x:2x16x9,m:2x16x1", "x:4x32x9,m:4x32x1"), "dimension 2 of input 'x' is fixed at 8 in symbolic.onnx [N,L,8], the shape gives 9");
        refused(build("x:1x4x8", "x:2x16x8", "x:4x32x8"), "profile 0 min shapes: input 'm' has symbolic dimensions [N,L,1] in symbolic.onnx; give its shape");
        refused(build("x:1x4x8,m:2x4x1", "x:2x16x8,m:2x16x1", "x:4x32x8,m:4x32x1"), "profile 0 min shapes: dimension 'N' is 1 for input 'x' and 2 for input 'm'");
        refused(build("x:1x4x8,m:1x4x1,z:1", "x:2x16x8,m:2x16x1,z:1", "x:4x32x8,m:4x32x1,z:1"), "symbolic.onnx has no input 'z' (its inputs: x, m)");
        refused(build("x:1x4x8,m:1x4x1", "x:2x16x8,m:2x16x1", "x:4x32x8,m:4x32x1", "--min-shapes", "x:1x4x8,m:1x4x1"),
                "optimization profiles need --min-shapes, --opt-shapes and --max-shapes once per profile; got 2, 1 and 1");
        refused(build("x:1x4x8,m:1x4x1", "x:2x16x8,m:2x16x1", "x:4x32x8,m:4x32x1", "--dim", "N=2"), "--dim fixes a shape; with optimization profiles the shapes come from");
        refused(build("x:1x4x8,m:1x4x1", "x:2x16x8,m:2x16x1", "x:4x32x8,m:4x32x1", "--plan", "p.json"), "--plan is one plan for one shape");
        refused(build("x:0x4x8,m:1x4x1", "x:2x16x8,m:2x16x1", "x:4x32x8,m:4x32x1"), "--min-shapes 'x:0x4x8': dimension 0 of input 'x' must be at least 1, got 0");
        refused(build("x:1x4x8,m:1x4x1", "x:2x16x8", "x:4x32x8,m:4x32x1"), "--min-shapes, --opt-shapes and --max-shapes must name the same inputs");
        refused(build("x:1x4x8,m:1x4x1", "x:2x16x8,m:2x16x1", "x:4x32x8,m:4x32x1", "--int8", "--calib", "generated:1"), "--int8 is not built for optimization profiles yet");
        refused(build("x:1x4x8,m:1x4x1", "x:2x16x8,m:2x16x1", "x:4x32x8,m:4x32x1", "--accuracy-budget", "rel_l2=0.01"), "--accuracy-budget is not built for optimization profiles yet");
        refused(build("x:1x4x8,m:1x4x1", "x:2x16x8,m:2x16x1", "x:4x32x8,m:4x32x1", "--int8", "--calib", "generated:1", "--accuracy-budget", "rel_l2=0.01"),
                "--int8 with --accuracy-budget is not built for optimization profiles yet");
    }

    @Test void shapesOnAnEngineWithoutProfilesAreRefused() {
        Path engine = dir.resolve("plain.engine");
        assertEquals(0, CliRun.of("build", "zoo:resnet50-tiny", "--cpu", "--save-engine", engine.toString()).code());
        CliRun r = CliRun.of("run", engine.toString(), "--shapes", "input:2x3x32x32");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("was built for one shape (no optimization profiles); --shapes applies to engines built with --min-shapes/--opt-shapes/--max-shapes"), r.err());
    }

    @Test void searchSolvesEachProfileAtItsOptShapesAndChecksMinAndMax() {
        CliRun r = CliRun.of("search", model.toString(), "--min-shapes", "x:1x4x8,m:1x4x1", "--opt-shapes", "x:2x16x8,m:2x16x1", "--max-shapes", "x:4x32x8,m:4x32x1", "--show-plan");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("profile 0: x:1x4x8..2x16x8..4x32x8"), r.out());
        assertTrue(r.out().contains("valid at min and max"), r.out());
    }

    @Test void aRealModelWithAFixedBatchOfOneGetsABatchProfileByRebatching() throws Exception {
        Path m = Shared.model("mobilenet_v2_ts");
        Path engine = dir.resolve("mnv2.engine");
        CliRun b = CliRun.of("build", m.resolve("model.onnx").toString(), "--cpu", "--save-engine", engine.toString(),
                "--min-shapes", "input.1:1x3x224x224", "--opt-shapes", "input.1:2x3x224x224", "--max-shapes", "input.1:3x3x224x224");
        assertEquals(0, b.code(), b.out() + b.err());
        Tensor one = OnnxTensors.readTensor(m.resolve("test_data_set_0/input_0.pb"));
        Tensor want = OnnxTensors.readTensor(m.resolve("test_data_set_0/output_0.pb"));
        ProfileEngine pe = ProfileEngine.of(Engine.load(engine, EngineHeader.Machine.cpu()), engine.toString());
        Tensor three = Tensor.zeros(one.dtype(), Shape.of(3, 3, 224, 224));
        for (int k = 0; k < 3; k++) System.arraycopy(one.floats(), 0, three.floats(), k * one.size(), one.size());
        Map<String, Shape> s = new LinkedHashMap<>();
        s.put("input.1", three.shape());
        Tensor got = pe.specialise(s).engine().createContext().run(List.of(three)).getFirst();
        assertEquals(Shape.of(3, 1000), got.shape());
        for (int k = 0; k < 3; k++) {
            Tensor row = Tensor.ofFloats(want.shape(), java.util.Arrays.copyOfRange(got.floats(), k * 1000, (k + 1) * 1000));
            assertNull(Compare.allClose(want, row, 1e-3, 1e-4), "batch row " + k + " against ONNX Runtime's reference output");
        }
        // squeezenet's dynamo export reshapes to a constant [1, 1000]: its batch is pinned, and the profile is refused naming the node
        Path sq = Shared.model("squeezenet1_1_dynamo");
        refused(List.of("build", sq.resolve("model.onnx").toString(), "--cpu", "--save-engine", dir.resolve("sq.engine").toString(),
                "--min-shapes", "x:1x3x224x224", "--opt-shapes", "x:2x3x224x224", "--max-shapes", "x:4x3x224x224"), "node 'node_view' (Reshape): cannot reshape [2,1000,1,1]");
    }

    private static Engine cpuEngine(org.tessel.tactics.plan.PlanApplier.Applied a) { return Engine.buildCpu(a.graph(), a.plan()); }
}

package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlannedNode;

/**
 * Explicit quantization from the command line: `tessel build MODEL.onnx` on a model with
 * QuantizeLinear/DequantizeLinear builds an INT8 plan with the model's own scales. The Fashion-MNIST
 * CNN's calibrated INT8 plan written by `export-qdq` and built back is the same plan (INT8 nodes,
 * scales bit for bit) and the same outputs; a Q/DQ model made here by hand matches ONNX Runtime's
 * execution of it; bad Q/DQ is refused with one line naming the node.
 */
class ExplicitQdqCommandTest {
    static final Path FASHION = Path.of("src/test/resources/fashion-mnist/fashion-cnn.onnx");
    private static final OpRegistry OPS = OpRegistry.global();

    @TempDir Path dir;

    @Test void fashionCnnInt8PlanExportedAsQdqAndBuiltBackIsTheSamePlanAndOutputs() throws Exception {
        Path cache = dir.resolve("c.cache"), qdq = dir.resolve("q.onnx"), orig = dir.resolve("orig.engine"), back = dir.resolve("back.engine");
        String[] int8 = {"--precision", "Conv=int8", "--int8-fallback"};
        CliRun b = CliRun.of(cat(new String[] {"build", FASHION.toString(), "--int8", "--calib", "generated:4", "--calib-cache", cache.toString(), "--strategy", "joint", "--cpu",
                "-o", orig.toString()}, int8));
        assertEquals(0, b.code(), b.err());
        CliRun x = CliRun.of(cat(new String[] {"export-qdq", FASHION.toString(), "--calib-cache", cache.toString(), "-o", qdq.toString()}, int8));
        assertEquals(0, x.code(), x.err());
        CliRun r = CliRun.of("build", qdq.toString(), "--cpu", "-o", back.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("int8: explicit quantization from 7 Q/DQ pairs and 6 quantized weights (the model's scales, no calibration); 6 nodes marked INT8"), r.out());
        assertTrue(r.out().contains("int8: 6 of 12 nodes run INT8"), r.out());

        EnginePlan want = Engine.load(orig, EngineHeader.Machine.cpu()).plan(), got = Engine.load(back, EngineHeader.Machine.cpu()).plan();
        assertEquals(int8Nodes(want), int8Nodes(got));
        assertEquals(6, int8Nodes(got).size());
        assertEquals(want.groups(), got.groups());
        assertEquals("qdq", got.quantization().calibrator());
        // Float.equals: bit for bit
        assertEquals(want.quantization().scales(), got.quantization().scales());
        for (var e : want.quantization().scales().entrySet())
            assertEquals(Float.floatToIntBits(e.getValue()), Float.floatToIntBits(got.quantization().scale(e.getKey())), e.getKey());

        Engine a = Engine.load(orig, EngineHeader.Machine.cpu()), c = Engine.load(back, EngineHeader.Machine.cpu());
        Graph g = new ModelLoader(FASHION).graph();
        for (long seed = 1; seed <= 3; seed++) {
            Tensor in = org.tessel.accuracy.AccuracyInputs.seeded(g, seed, false).getFirst();
            Tensor ya = a.createContext().run(List.of(in)).getFirst(), yc = c.createContext().run(List.of(in)).getFirst();
            for (int i = 0; i < ya.size(); i++) assertEquals(ya.getFloat(i), yc.getFloat(i), 1e-6, "output " + i + " seed " + seed);
        }
    }

    private static List<String> int8Nodes(EnginePlan p) {
        List<String> out = new ArrayList<>();
        for (PlannedNode n : p.nodes()) if (n.precision() == Precision.INT8) out.add(n.node());
        return out;
    }

    private static String[] cat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** What a hand-made model gets wrong. */
    enum Bad { NONE, ASYMMETRIC, UINT8, Q_WITHOUT_DQ, PER_AXIS_ACTIVATION, NEGATIVE_SCALE, COMPUTED_SCALE, DQ_OF_INPUT, BLOCKED_WEIGHT }

    static final float SX = 1f / 127, SR = 6f / 127, SF = 2f / 127;

    /**
     * x [2,4,6,6] -> Q/DQ -> Conv (int8 weight [8,4,3,3], per-channel scales, each channel's largest
     * code 127) + bias -> Relu -> Q/DQ -> GlobalAveragePool -> Flatten -> Q/DQ -> Gemm (int8 weight
     * [5,8] per row, transB) -> y [2,5].
     */
    static Graph handModel(Bad bad) { return handModel(bad, 5, false); }

    static Graph handModel(Bad bad, int classes) { return handModel(bad, classes, false); }

    /** With {@code twoScales}, the Relu's output is read at a second scale too, and the two dequantized copies added. */
    static Graph handModel(Bad bad, int classes, boolean twoScales) {
        SplittableRandom r = new SplittableRandom(7);
        Graph g = new Graph("hand_qdq");
        Value x = g.addInput("x", TensorType.of(DType.F32, Shape.of(2, 4, 6, 6)));
        Value zero = g.addConstant("zero", Tensor.zeros(DType.I8, Shape.scalar()));
        Value ax = activation(g, x, "x", SX, zero, bad, r);
        Value w = weight(g, "conv_w", 8, 4 * 3 * 3, Shape.of(8, 4, 3, 3), r, bad);
        Value bias = g.addConstant("conv_b", Tensor.ofFloats(Shape.of(8), 0.1f, -0.2f, 0.05f, 0f, 0.3f, -0.1f, 0.02f, 0.2f));
        Node conv = g.addNode(OPS.get("", "Conv"), "conv", List.of(ax, w, bias), Attributes.empty().with("pads", AttrValue.ofInts(1, 1, 1, 1)), 1);
        Node relu = g.addNode(OPS.get("", "Relu"), "relu", List.of(conv.output(0)), Attributes.empty(), 1);
        Value rq = activation(g, relu.output(0), "r", bad == Bad.NEGATIVE_SCALE ? -SR : SR, zero, Bad.NONE, r);
        if (twoScales) {
            // the same tensor quantized again at another scale for a second reader
            Value again = activation(g, relu.output(0), "r2", SR * 2, zero, Bad.NONE, r);
            Node add = g.addNode(OPS.get("", "Add"), "add", List.of(rq, again), Attributes.empty(), 1);
            rq = add.output(0);
        }
        Node pool = g.addNode(OPS.get("", "GlobalAveragePool"), "pool", List.of(rq), Attributes.empty(), 1);
        Node flat = g.addNode(OPS.get("", "Flatten"), "flatten", List.of(pool.output(0)), Attributes.empty(), 1);
        Value fq = activation(g, flat.output(0), "f", SF, zero, Bad.NONE, r);
        Value fw = weight(g, "fc_w", classes, 8, Shape.of(classes, 8), r, Bad.NONE);
        Node fc = g.addNode(OPS.get("", "Gemm"), "fc", List.of(fq, fw), Attributes.empty().with("transB", AttrValue.of(1L)), 1);
        List<Value> outs = new ArrayList<>(List.of(fc.output(0)));
        if (bad == Bad.Q_WITHOUT_DQ) {
            Value s = g.addConstant("extra_scale", Tensor.ofFloats(Shape.scalar(), SF));
            outs.add(g.addNode(OPS.get("", "QuantizeLinear"), "lonely_q", List.of(flat.output(0), s, zero), Attributes.empty(), 1).output(0));
        }
        if (bad == Bad.DQ_OF_INPUT) {
            Value codes = g.addInput("codes", TensorType.of(DType.I8, Shape.of(2, 5)));
            Value s = g.addConstant("codes_scale", Tensor.ofFloats(Shape.scalar(), SF));
            Node d = g.addNode(OPS.get("", "DequantizeLinear"), "codes_dq", List.of(codes, s, zero), Attributes.empty(), 1);
            Node add = g.addNode(OPS.get("", "Add"), "add_codes", List.of(fc.output(0), d.output(0)), Attributes.empty(), 1);
            outs.set(0, add.output(0));
        }
        g.setOutputs(outs);
        return g;
    }

    /** v -> QuantizeLinear -> DequantizeLinear at scale s (int8, zero point 0 unless {@code bad} says otherwise). */
    private static Value activation(Graph g, Value v, String name, float s, Value zero, Bad bad, SplittableRandom r) {
        Value scale = switch (bad) {
            case PER_AXIS_ACTIVATION -> g.addConstant(name + "_scale", Tensor.ofFloats(Shape.of(4), s, s, s, s));
            case COMPUTED_SCALE -> g.addInput(name + "_scale", TensorType.of(DType.F32, Shape.scalar()));
            default -> g.addConstant(name + "_scale", Tensor.ofFloats(Shape.scalar(), s));
        };
        Value zp = switch (bad) {
            case ASYMMETRIC -> g.addConstant(name + "_zp", Tensor.ofLongs(DType.I8, Shape.scalar(), 3));
            case UINT8 -> g.addConstant(name + "_zp", Tensor.zeros(DType.U8, Shape.scalar()));
            case PER_AXIS_ACTIVATION -> g.addConstant(name + "_zp", Tensor.zeros(DType.I8, Shape.of(4)));
            default -> zero;
        };
        Node q = g.addNode(OPS.get("", "QuantizeLinear"), name + "_quantize", List.of(v, scale, zp), Attributes.empty(), 1);
        return g.addNode(OPS.get("", "DequantizeLinear"), name + "_dequantize", List.of(q.output(0), scale, zp), Attributes.empty(), 1).output(0);
    }

    /** An int8 weight [rows, cols...] with per-row scales, each row's largest code +-127 (the engine's own scale), and its DequantizeLinear. */
    private static Value weight(Graph g, String name, int rows, int cols, Shape shape, SplittableRandom r, Bad bad) {
        long[] codes = new long[rows * cols];
        float[] scales = new float[rows];
        for (int i = 0; i < rows; i++) {
            scales[i] = (float) r.nextDouble(0.002, 0.01);
            for (int j = 0; j < cols; j++) codes[i * cols + j] = r.nextInt(-127, 128);
            codes[i * cols + r.nextInt(cols)] = r.nextBoolean() ? 127 : -127;
        }
        Value q = g.addConstant(name + "_int8", Tensor.ofLongs(DType.I8, shape, codes));
        Value s = bad == Bad.BLOCKED_WEIGHT
                ? g.addConstant(name + "_scale", Tensor.full(DType.F32, blockedScale(shape), 0.01))
                : g.addConstant(name + "_scale", Tensor.ofFloats(Shape.of(rows), scales));
        Value z = g.addConstant(name + "_zp", Tensor.zeros(DType.I8, bad == Bad.BLOCKED_WEIGHT ? s.type().shape() : Shape.of(rows)));
        Attributes a = Attributes.empty().with("axis", AttrValue.of(0L));
        if (bad == Bad.BLOCKED_WEIGHT) a = Attributes.empty().with("axis", AttrValue.of(1L)).with("block_size", AttrValue.of(2L));
        return g.addNode(OPS.get("", "DequantizeLinear"), name + "_dequantize", List.of(q, s, z), a, 1).output(0);
    }

    private static Shape blockedScale(Shape w) {
        int[] d = w.dims().clone();
        d[1] = (d[1] + 1) / 2;
        return Shape.of(d);
    }

    /** With 8 classes every marked node runs INT8; with 5 the Gemm has no INT8 tactic and the pair before it stays as nodes. */
    @ParameterizedTest @org.junit.jupiter.params.provider.ValueSource(ints = {8, 5})
    void aHandMadeQdqModelBuildsToOnnxRuntimesOutputs(int classes) throws Exception {
        Path m = dir.resolve("hand.onnx"), e = dir.resolve("hand.engine");
        byte[] bytes = OnnxExporter.toBytes(handModel(Bad.NONE, classes));
        Files.write(m, bytes);
        CliRun b = CliRun.of("build", m.toString(), "--cpu", "-o", e.toString());
        assertEquals(0, b.code(), b.err());
        if (classes == 8)
            // the pair after the Relu moves back onto the Conv's output too (Q backward past the Relu), so the INT8 Conv writes it quantized
            assertTrue(b.out().contains("int8: explicit quantization from 4 Q/DQ pairs and 2 quantized weights (the model's scales, no calibration); 2 nodes marked INT8; "
                    + "1 pair(s) propagated through commuting ops (0 forward, 1 backward)\n")
                    && b.out().contains("int8: 2 of "), b.out());
        // fc's Gemm (K=8, N=5) has no INT8 tactic, so nothing quantizes %flatten where its pair is: the pair stays two nodes
        else assertTrue(b.out().contains("int8: explicit quantization from 4 Q/DQ pairs and 2 quantized weights (the model's scales, no calibration); 1 nodes marked INT8; "
                + "1 pair(s) propagated through commuting ops (0 forward, 1 backward); 1 pair(s) kept as QuantizeLinear/DequantizeLinear nodes, since no INT8 node reads or writes their tensor: %flatten\n"), b.out());
        assertFalse(b.out().contains("warning: weight"), "the optimizer keeps the weights, so the model's channel scales apply: " + b.out());
        Engine engine = Engine.load(e, EngineHeader.Machine.cpu());
        assertEquals(classes == 8 ? 2 : 1, engine.plan().quantization().weights().size(), "the engine file carries the model's weight scales of its INT8 nodes: " + engine.plan().quantization());
        Map<String, Integer> mix = new TreeMap<>();
        engine.plan().precisionMix().forEach((k, v) -> mix.put(k.text(), v));
        assertEquals(classes == 8 ? 2 : 1, mix.getOrDefault("int8", 0), "INT8 nodes: " + mix + "\n" + b.out());
        Graph g = handModel(Bad.NONE, classes);
        double worst = 0;
        try (OrtRunner ort = OrtRunner.open(bytes, Map.of(), m.toString())) {
            for (long seed = 1; seed <= 4; seed++) {
                Tensor in = org.tessel.accuracy.AccuracyInputs.seeded(g, seed, false).getFirst();
                Tensor want = ort.run(Map.of("x", in), List.of(g.outputs().getFirst().name())).values().iterator().next();
                Tensor got = engine.createContext().run(List.of(in)).getFirst();
                worst = Math.max(worst, Tensor.relativeL2(want, got));
            }
        }
        System.out.printf("hand-made Q/DQ model, " + classes + " classes (%s): Tessel CPU INT8 engine vs ONNX Runtime, worst relative L2 %.3g%n", mix, worst);
        assertTrue(worst < 1e-5, "the engine quantizes where ONNX Runtime does, at the same scales: relative L2 " + worst + "\n" + b.out() + CliRun.of("inspect", e.toString()).out());
    }

    /**
     * The hand-made model with its Relu's output quantized at two scales (SR and 2 SR) for the two
     * inputs of an Add, which the engine refused before ("one scale per tensor"): each pair stays a
     * QuantizeLinear/DequantizeLinear on its edge, the INT8 Conv writes the Relu's input in float,
     * and the engine computes what ONNX Runtime computes.
     */
    @Test void aTensorQuantizedAtTwoScalesBuildsToOnnxRuntimesOutputs() throws Exception {
        Path m = dir.resolve("two.onnx"), e = dir.resolve("two.engine");
        Graph g = handModel(Bad.NONE, 8, true);
        byte[] bytes = OnnxExporter.toBytes(g);
        Files.write(m, bytes);
        CliRun b = CliRun.of("build", m.toString(), "--cpu", "-o", e.toString());
        assertEquals(0, b.code(), b.err() + b.out());
        assertTrue(b.out().contains("1 tensor(s) read at several scales, the pairs on their readers' edges kept as QuantizeLinear/DequantizeLinear nodes: %relu (2 pairs)"),
                b.out());
        Engine engine = Engine.load(e, EngineHeader.Machine.cpu());
        for (String n : List.of("conv", "fc")) {
            String at = n;
            for (var grp : engine.plan().groups()) if (grp.members().contains(n)) at = grp.name();
            assertEquals(Precision.INT8, engine.plan().node(at).precision(), n + " (as " + at + ") runs INT8\n" + b.out());
        }
        double worstRef = 0;
        List<Double> vsOrt = new ArrayList<>();
        try (OrtRunner ort = OrtRunner.open(bytes, Map.of(), m.toString())) {
            for (long seed = 1; seed <= 6; seed++) {
                Tensor in = org.tessel.accuracy.AccuracyInputs.seeded(g, seed, false).getFirst();
                Tensor want = ort.run(Map.of("x", in), List.of(g.outputs().getFirst().name())).values().iterator().next();
                Tensor got = engine.createContext().run(List.of(in)).getFirst();
                worstRef = Math.max(worstRef, Tensor.relativeL2(new org.tessel.ir.ReferenceInterpreter().run(g, List.of(in)).getFirst(), got));
                vsOrt.add(Tensor.relativeL2(want, got));
            }
        }
        System.out.printf("hand-made Q/DQ model, Relu output at two scales: CPU INT8 engine vs ONNX semantics (reference interpreter) worst relative L2 %.3g, "
                + "vs ONNX Runtime per input %s%n", worstRef, vsOrt);
        String why = "\n" + b.out() + CliRun.of("inspect", e.toString()).out();
        assertTrue(worstRef < 1e-6, "vs the reference interpreter on the Q/DQ model: " + worstRef + why);
        // ONNX Runtime sums the float Conv in its own order: where a sum lands on a rounding boundary of a pair, one code differs by a step,
        // which moves the output by about one step of the classifier's input (relative L2 ~4e-3); every other input agrees to f32 rounding
        assertTrue(vsOrt.stream().filter(v -> v < 1e-5).count() >= vsOrt.size() - 1 && vsOrt.stream().allMatch(v -> v < 1e-2), "vs ONNX Runtime " + vsOrt + why);

        // export-qdq writes a calibrated float model's plan as Q/DQ; given a Q/DQ model (two scales here) it says so
        Path back = dir.resolve("two-back.onnx");
        CliRun x = CliRun.of("export-qdq", m.toString(), "-o", back.toString());
        assertEquals(2, x.code(), x.out());
        assertEquals("tessel export-qdq: " + m + " already carries QuantizeLinear/DequantizeLinear nodes (explicit quantization at its own scales): export-qdq "
                + "writes a calibrated float model's plan as Q/DQ; `tessel build " + m + "` runs this one as it is", x.err().strip());
        assertTrue(!Files.exists(back), "nothing written");
    }

    /** An int8 constant of {@code shape}, codes uniform in [-max, max] with one at +-max, dequantized at {@code scales} along {@code axis} (one scale: per tensor). */
    private static Value coarseWeight(Graph g, String name, Shape shape, int max, float[] scales, int axis, SplittableRandom r) {
        long[] codes = new long[(int) shape.numElements()];
        for (int i = 0; i < codes.length; i++) codes[i] = i == 0 ? max : r.nextInt(-max, max + 1);
        Value q = g.addConstant(name + "_codes", Tensor.ofLongs(DType.I8, shape, codes));
        Value s = g.addConstant(name + "_scale", scales.length == 1 ? Tensor.ofFloats(Shape.scalar(), scales[0]) : Tensor.ofFloats(Shape.of(scales.length), scales));
        Value z = g.addConstant(name + "_zp", scales.length == 1 ? Tensor.zeros(DType.I8, Shape.scalar()) : Tensor.zeros(DType.I8, Shape.of(scales.length)));
        Attributes a = scales.length == 1 ? Attributes.empty() : Attributes.empty().with("axis", AttrValue.of((long) axis));
        return g.addNode(OPS.get("", "DequantizeLinear"), name + "_dequantize", List.of(q, s, z), a, 1).output(0);
    }

    /**
     * ModelOpt's placement, built by `tessel build`: a pair before a MaxPool (none before the Conv
     * after it), a Conv whose int8 codes reach only 100 at one scale, a pair after its Relu that a
     * Flatten carries to a MatMul (and its bias Add), whose per-row int8 weight reaches it through a
     * Transpose. Q/DQ propagation marks the Conv and the MatMul INT8 (the MatMul runs fused with its
     * bias, the only INT8 form of a MatMul), the engine carries the model's weight scales,
     * and it computes what ONNX Runtime computes on the Q/DQ model.
     */
    @Test void modelOptPlacementThroughMaxPoolFlattenAndTransposeBuildsToOnnxRuntimesOutputs() throws Exception {
        SplittableRandom r = new SplittableRandom(17);
        Graph g = new Graph("modelopt_qdq");
        Value x = g.addInput("x", TensorType.of(DType.F32, Shape.of(2, 4, 8, 8)));
        Value zero = g.addConstant("zero", Tensor.zeros(DType.I8, Shape.scalar()));
        Value ax = activation(g, x, "x", SX, zero, Bad.NONE, r);
        Node pool = g.addNode(OPS.get("", "MaxPool"), "pool", List.of(ax),
                Attributes.empty().with("kernel_shape", AttrValue.ofInts(2, 2)).with("strides", AttrValue.ofInts(2, 2)), 1);
        Value cw = coarseWeight(g, "conv_w", Shape.of(8, 4, 3, 3), 100, new float[] {0.004f}, 0, r);
        Node conv = g.addNode(OPS.get("", "Conv"), "conv", List.of(pool.output(0), cw), Attributes.empty().with("pads", AttrValue.ofInts(1, 1, 1, 1)), 1);
        Node relu = g.addNode(OPS.get("", "Relu"), "relu", List.of(conv.output(0)), Attributes.empty(), 1);
        Value rq = activation(g, relu.output(0), "r", SR / 4, zero, Bad.NONE, r);
        Node flat = g.addNode(OPS.get("", "Flatten"), "flatten", List.of(rq), Attributes.empty(), 1);
        float[] rows = new float[8];
        for (int i = 0; i < 8; i++) rows[i] = 0.001f * (1 + i);
        Value fw = coarseWeight(g, "fc_w", Shape.of(8, 128), 127, rows, 0, r);
        Node t = g.addNode(OPS.get("", "Transpose"), "fc_w_t", List.of(fw), Attributes.empty().with("perm", AttrValue.ofInts(1, 0)), 1);
        // ModelOpt's Linear: MatMul, then the bias Add (cuBLASLt runs a MatMul at INT8 only fused with it, gemm_bias_act)
        Node mm = g.addNode(OPS.get("", "MatMul"), "fc", List.of(flat.output(0), t.output(0)), Attributes.empty(), 1);
        Value bias = g.addConstant("fc_b", Tensor.ofFloats(Shape.of(8), 0.1f, -0.1f, 0.2f, 0f, 0.05f, -0.2f, 0.3f, 0.01f));
        Node add = g.addNode(OPS.get("", "Add"), "fc_bias", List.of(mm.output(0), bias), Attributes.empty(), 1);
        g.setOutputs(List.of(add.output(0)));
        Path m = dir.resolve("modelopt.onnx"), e = dir.resolve("modelopt.engine");
        byte[] bytes = OnnxExporter.toBytes(g);
        Files.write(m, bytes);
        CliRun b = CliRun.of("build", m.toString(), "--cpu", "-o", e.toString());
        assertEquals(0, b.code(), b.err() + b.out());
        assertTrue(b.out().contains("2 nodes marked INT8; 3 pair(s) propagated through commuting ops (2 forward, 1 backward)"), b.out());
        Engine engine = Engine.load(e, EngineHeader.Machine.cpu());
        for (String n : List.of("conv", "fc")) {
            String at = n;
            for (var grp : engine.plan().groups()) if (grp.members().contains(n)) at = grp.name();
            assertEquals(org.tessel.cost.Precision.INT8, engine.plan().node(at).precision(), n + " (as " + at + ") runs INT8\n" + b.out());
        }
        assertFalse(b.out().contains("fallback"), b.out());
        assertEquals(2, engine.plan().quantization().weights().size(), engine.plan().quantization().toString());
        double worst = 0;
        try (OrtRunner ort = OrtRunner.open(bytes, Map.of(), m.toString())) {
            for (long seed = 1; seed <= 4; seed++) {
                Tensor in = org.tessel.accuracy.AccuracyInputs.seeded(g, seed, false).getFirst();
                Tensor want = ort.run(Map.of("x", in), List.of(g.outputs().getFirst().name())).values().iterator().next();
                worst = Math.max(worst, Tensor.relativeL2(want, engine.createContext().run(List.of(in)).getFirst()));
            }
        }
        System.out.printf("ModelOpt-placed Q/DQ model (MaxPool, Flatten, Transpose; conv codes up to 100): CPU INT8 engine vs ONNX Runtime, worst relative L2 %.3g%n", worst);
        assertTrue(worst < 1e-5, "relative L2 " + worst + "\n" + b.out() + CliRun.of("inspect", e.toString()).out());
    }

    @ParameterizedTest @EnumSource(value = Bad.class, names = "NONE", mode = EnumSource.Mode.EXCLUDE)
    void badQdqIsRefusedNamingTheNode(Bad bad) throws Exception {
        Path m = dir.resolve(bad + ".onnx");
        Files.write(m, OnnxExporter.toBytes(handModel(bad)));
        CliRun b = CliRun.of("build", m.toString(), "--cpu", "-o", dir.resolve(bad + ".engine").toString());
        String want = switch (bad) {
            case ASYMMETRIC -> "node 'x_quantize' (QuantizeLinear): zero point 3 is not 0: asymmetric quantization; Tessel's INT8 is symmetric (zero point 0)";
            case UINT8 -> "node 'x_quantize' (QuantizeLinear): uint8 zero point; Tessel's INT8 is symmetric int8 (an int8 zero point of 0)";
            case Q_WITHOUT_DQ -> "node 'lonely_q' (QuantizeLinear): its int8 output %";
            case PER_AXIS_ACTIVATION -> "node 'x_quantize' (QuantizeLinear): per-axis activation scale (4 elements); Tessel quantizes activations per tensor (one scale)";
            case NEGATIVE_SCALE -> "node 'r_quantize' (QuantizeLinear): scale " + (-SR) + " is not positive and finite";
            case COMPUTED_SCALE -> "node 'x_quantize' (QuantizeLinear): y_scale %x_scale is computed, not a constant; explicit quantization takes constant scales";
            case DQ_OF_INPUT -> "node 'codes_dq' (DequantizeLinear): it dequantizes %codes, which is neither a QuantizeLinear's output nor a constant";
            case BLOCKED_WEIGHT -> "node 'conv_w_dequantize' (DequantizeLinear): blocked quantization (block_size 2) is not taken; use per-tensor or per-axis scales";
            case NONE -> throw new AssertionError();
        };
        assertEquals(2, b.code(), b.out() + b.err());
        assertTrue(b.err().startsWith("tessel build: " + want), b.err());
        assertEquals(1, b.err().strip().lines().count(), "one line, no stack trace: " + b.err());
        assertFalse(Files.exists(dir.resolve(bad + ".engine")));
    }

    @Test void perAxisQdqBeforeOpset13IsRefusedNamingTheNode() throws Exception {
        var model = OnnxExporter.toModel(handModel(Bad.NONE));
        var b = model.toBuilder();
        for (int i = 0; i < b.getOpsetImportCount(); i++)
            if (b.getOpsetImport(i).getDomain().isEmpty()) b.setOpsetImport(i, b.getOpsetImport(i).toBuilder().setVersion(10));
        Path m = dir.resolve("opset10.onnx");
        Files.write(m, b.build().toByteArray());
        CliRun r = CliRun.of("build", m.toString(), "--cpu", "-o", dir.resolve("o.engine").toString());
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("conv_w_dequantize") && r.err().contains("per-axis (de)quantization needs opset 13 or later"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test void calibrationOfAQdqModelIsRefusedNamingBoth() throws Exception {
        Path m = dir.resolve("hand.onnx");
        Files.write(m, OnnxExporter.toBytes(handModel(Bad.NONE)));
        CliRun r = CliRun.of("build", m.toString(), "--int8", "--calib", "generated:2", "--cpu", "-o", dir.resolve("c.engine").toString());
        assertEquals(2, r.code());
        assertEquals("tessel build: " + m + " carries QuantizeLinear/DequantizeLinear nodes (explicit quantization: the model's own scales), so --calib does not apply; "
                + "build it without --calib, or calibrate the float model (without Q/DQ) instead", r.err().strip());
    }

    /** Loads a model file as the CLI does. */
    private record ModelLoader(Path p) {
        Graph graph() throws Exception { return org.tessel.ir.onnx.OnnxImporter.importModel(p, org.tessel.ir.onnx.OnnxImporter.Options.defaults()); }
    }
}

package org.tessel.runtime.calib;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.onnx.OnnxImporter;

/**
 * Q/DQ propagation ({@link QdqPropagation}) as explicit quantization runs it before folding: the
 * Q/DQ graph computes exactly the same after propagation (it only adds pairs where the op commutes
 * with quantization), exactly the contractions the placement asks for get marked, what cannot move
 * is refused naming the node, and a ResNet-style block in ModelOpt's placement, written as ONNX and
 * imported, runs on the CPU engine at INT8 close to its float model.
 */
class QdqPropagationTest {
    @TempDir Path dir;

    private static Tensor run(Graph g, List<Tensor> in) { return new ReferenceInterpreter().run(g, in).getFirst(); }

    /** Propagates a copy and checks the reference outputs are bit for bit those of the graph as given. */
    private static QdqPropagation.Result propagatesExactly(Graph g, long seed) {
        List<Tensor> in = QdqModels.inputs(g, seed);
        Tensor before = run(g, in);
        Graph c = g.copy();
        QdqPropagation.Result r = QdqPropagation.propagate(c);
        org.tessel.ir.Verifier.verify(c);
        assertTrue(before.dataEquals(run(c, in)), "propagation changed the outputs: " + r.added());
        return r;
    }

    private static ExplicitQuantization.Result fold(Graph g) {
        Graph c = g.copy();
        return ExplicitQuantization.fold(c);
    }

    @Test void aPairBeforeAMaxPoolQuantizesTheConvAfterIt() {
        QdqModels m = new QdqModels("pool", 1);
        Value x = m.input("x", 1, 4, 8, 8);
        Value p = m.maxPool("pool", m.qdq(x, 0.02f), 2, 2, 0);
        Value y = m.node("Relu", "relu", m.conv("conv", p, m.convWeight("w", 8, 4, 3, 0.01f), 1, 1));
        m.outputs(y);
        QdqPropagation.Result r = propagatesExactly(m.g, 3);
        assertEquals(List.of("%pool after node 'pool' (MaxPool)"), r.added());
        ExplicitQuantization.Result f = fold(m.g);
        assertEquals(List.of("conv"), f.quantizedNodes());
        assertEquals(0.02f, f.scales().get("pool"));
        assertEquals(0.02f, f.scales().get("x"));
        assertTrue(f.describe().contains("1 pair(s) propagated through commuting ops (1 forward, 0 backward)"), f.describe());
    }

    @Test void reshapeAndTransposeBeforeAMatMulCarryTheActivationPairAndTheWeightScales() {
        QdqModels m = new QdqModels("mm", 2);
        Value x = m.input("x", 2, 3, 4);
        Value r = m.node("Reshape", "flat", m.qdq(x, 0.05f), m.ints("shape", 6, 4));
        // ModelOpt's Linear: the weight [N=5, K=4] per output channel (axis 0), transposed to MatMul's [K, N]
        float[] ws = {0.01f, 0.02f, 0.03f, 0.04f, 0.05f};
        Value w = m.weight("w", new int[] {5, 4}, 0, ws, new int[] {127, 100, 60, 127, 9});
        Value wt = m.node("Transpose", "wt", Attributes.empty().with("perm", AttrValue.of(new long[] {1, 0})), w);
        m.outputs(m.node("MatMul", "mm", r, wt));
        propagatesExactly(m.g, 4);
        Graph c = m.g.copy();
        ExplicitQuantization.Result f = ExplicitQuantization.fold(c);
        assertEquals(List.of("mm"), f.quantizedNodes());
        Node mm = c.nodes().stream().filter(n -> n.name().equals("mm")).findFirst().orElseThrow();
        assertTrue(mm.input(1).isConstant(), "the transposed weight is a constant");
        assertArrayEquals(ws, f.weightScales().get(mm.input(1).name()), "the model's channel scales, along MatMul's output channels");
        assertEquals(0.05f, f.scales().get("flat"));
    }

    @Test void residualAddInputsAndBackwardPropagationToTheConvBeforeAMaxPool() {
        QdqModels m = new QdqModels("res", 3);
        Value x = m.input("x", 1, 8, 8, 8);
        Value c1 = m.node("Relu", "relu1", m.conv("conv1", m.qdq(x, 0.02f), m.convWeight("w1", 8, 8, 3, 0.005f), 1, 1));
        Value c2 = m.conv("conv2", m.qdq(c1, 0.03f), m.convWeight("w2", 8, 8, 3, 0.005f), 1, 1);
        Value add = m.node("Relu", "relu2", m.node("Add", "add", m.qdq(c2, 0.04f), m.qdq(x, 0.02f)));
        // pytorch-quantization's QuantMaxPool2d: the pair before the pool, none before the conv after it
        Value pool = m.maxPool("pool", m.qdq(add, 0.05f), 2, 2, 0);
        m.outputs(m.conv("conv3", pool, m.convWeight("w3", 4, 8, 1, 0.01f), 0, 1));
        QdqPropagation.Result r = propagatesExactly(m.g, 5);
        // the Relus are read only by pairs: each pair moves back onto its Relu's input, the output of the Conv (and Add) before it,
        // which may then write its output quantized as TensorRT fuses a Q into the layer before it
        assertEquals(List.of("%conv1 before node 'relu1' (Relu)", "%add before node 'relu2' (Relu)", "%pool after node 'pool' (MaxPool)"), r.added());
        assertEquals(1, r.forward());
        assertEquals(2, r.backward());
        ExplicitQuantization.Result f = fold(m.g);
        assertEquals(List.of("conv1", "conv2", "conv3"), f.quantizedNodes());
        assertEquals(0.05f, f.scales().get("add"));
        assertEquals(0.03f, f.scales().get("conv1"));
        assertEquals(0.05f, f.scales().get("pool"));
        assertEquals(0.04f, f.scales().get("conv2"));
    }

    @Test void aWeightScaledAlongItsInputChannelsIsRefusedNamingTheNode() {
        QdqModels m = new QdqModels("k", 13);
        Value x = m.input("x", 2, 4);
        // MatMul's weight [K=4, N=3] quantized along K (axis 0): no kernel can apply per-K scales after its sums
        Value w = m.weight("w", new int[] {4, 3}, 0, new float[] {0.1f, 0.2f, 0.3f, 0.4f}, new int[] {127});
        m.outputs(m.node("MatMul", "mm", m.qdq(x, 0.1f), w));
        var e = assertThrows(ExplicitQuantization.QdqException.class, () -> fold(m.g));
        assertEquals("node 'mm' (MatMul): weight %w's scales vary within output channel 0 (axis 1: 0.1 and 0.2); the quantized kernels scale per output channel, "
                + "so a weight's DequantizeLinear must be per tensor or per output channel", e.getMessage());
    }

    @Test void concatOfPairsAtOneScaleIsQuantizedAndAtTwoScalesIsRefused() {
        for (float sb : new float[] {0.1f, 0.2f}) {
            QdqModels m = new QdqModels("cat", 4);
            Value a = m.input("a", 1, 2, 4, 4), b = m.input("b", 1, 2, 4, 4);
            Value cat = m.node("Concat", "cat", Attributes.empty().with("axis", AttrValue.of(1L)), m.qdq(a, 0.1f), m.qdq(b, sb));
            m.outputs(m.conv("conv", cat, m.convWeight("w", 4, 4, 1, 0.01f), 0, 1));
            if (sb == 0.1f) {
                propagatesExactly(m.g, 6);
                assertEquals(List.of("conv"), fold(m.g).quantizedNodes());
            } else {
                var e = assertThrows(ExplicitQuantization.QdqException.class, () -> fold(m.g));
                assertEquals("node 'cat' (Concat): the Q/DQ pair on %a cannot move past it (its inputs are quantized at different scales (%a at 0.1, %b at 0.2)), "
                        + "so node 'conv' (Conv) would read %cat unquantized; put a Q/DQ pair on that input", e.getMessage());
            }
        }
    }

    @Test void padWithAValueOtherThanZeroIsRefusedAndWithZeroIsQuantized() {
        for (float v : new float[] {0f, 1f}) {
            QdqModels m = new QdqModels("pad", 5);
            Value x = m.input("x", 1, 4, 4, 4);
            Value pad = m.node("Pad", "pad", m.qdq(x, 0.1f), m.ints("pads", 0, 0, 1, 1, 0, 0, 1, 1), m.constant("v", Tensor.ofFloats(Shape.scalar(), v)));
            m.outputs(m.conv("conv", pad, m.convWeight("w", 4, 4, 3, 0.01f), 0, 1));
            if (v == 0f) {
                propagatesExactly(m.g, 7);
                assertEquals(List.of("conv"), fold(m.g).quantizedNodes());
            } else {
                var e = assertThrows(ExplicitQuantization.QdqException.class, () -> fold(m.g));
                assertEquals("node 'pad' (Pad): the Q/DQ pair on %x cannot move past it (it pads with 1.0, not 0 (a quantized tensor pads with code 0)), "
                        + "so node 'conv' (Conv) would read %pad unquantized; put a Q/DQ pair on that input", e.getMessage());
            }
        }
    }

    @Test void nothingMovesThroughOpsThatDoNotCommuteAndAveragePoolKeepsItsOwnScales() {
        // Sigmoid: no propagation, the conv after it reads a float tensor and is not marked (not refused: no commuting op stopped it)
        QdqModels m = new QdqModels("sig", 6);
        Value x = m.input("x", 1, 4, 6, 6);
        m.outputs(m.conv("conv", m.node("Sigmoid", "sig", m.qdq(x, 0.1f)), m.convWeight("w", 4, 4, 3, 0.01f), 1, 1));
        assertEquals(0, propagatesExactly(m.g, 8).total());
        assertEquals(List.of(), fold(m.g).quantizedNodes());
        // AveragePool: not commuting (TensorRT's quantizable pool): the input pair's scale is not carried to its output
        for (boolean pairAfter : new boolean[] {false, true}) {
            QdqModels a = new QdqModels("avg", 7);
            Value xa = a.input("x", 1, 4, 6, 6);
            Value pool = a.node("AveragePool", "avg", Attributes.empty().with("kernel_shape", AttrValue.of(new long[] {2, 2})), a.qdq(xa, 0.1f));
            a.outputs(a.conv("conv", pairAfter ? a.qdq(pool, 0.07f) : pool, a.convWeight("w", 4, 4, 1, 0.01f), 0, 1));
            assertEquals(0, propagatesExactly(a.g, 9).total());
            ExplicitQuantization.Result f = fold(a.g);
            assertEquals(pairAfter ? List.of("conv") : List.of(), f.quantizedNodes());
            assertEquals(pairAfter ? (Float) 0.07f : null, f.scales().get("avg"), "the pool's output has the scale of the pair after it, never its input's");
        }
        // a pair already at the contraction: nothing to do
        QdqModels d = new QdqModels("direct", 8);
        Value xd = d.input("x", 1, 4, 6, 6);
        d.outputs(d.conv("conv", d.qdq(xd, 0.1f), d.convWeight("w", 4, 4, 1, 0.01f), 0, 1));
        assertEquals(0, propagatesExactly(d.g, 10).total());
    }

    /**
     * One tensor quantized at two scales, per-tensor or per-channel weights: (a) a Conv's output read
     * by two Convs through pairs at scales 7x apart (wide enough that no code reaches -128, where ONNX
     * and the engine's +-127 differ), (b) a residual Add whose input pair on the first block's Relu
     * differs from the pair the next Conv reads it through, (c) a chain of two pairs at those scales
     * before one Conv. In (a) and (b) each such pair stays a QuantizeLinear/DequantizeLinear on its
     * reader's edge and the producer writes the tensor in float; in (c) the first pair folds and the
     * second stays nodes (a requantize: ONNX rounds twice). Every Conv runs INT8, the CPU engine
     * computes ONNX's Q/DQ semantics (the reference interpreter on the unfolded model) exactly, and
     * quantizing at the first scale only would be far off. The GPU builder refuses the float-writing
     * INT8 producer, naming it.
     */
    @ParameterizedTest @ValueSource(booleans = {false, true})
    void aTensorQuantizedAtTwoScalesGetsAQuantizeOnEachEdgeAndRunsAtInt8(boolean perChannel) {
        for (String shape : List.of("two readers", "residual", "chain")) {
            QdqModels m = new QdqModels("two_scales", perChannel ? 21 : 22);
            java.util.function.BiFunction<String, int[], Value> w = (name, d) -> perChannel ? m.convWeight(name, d[0], d[1], d[2], 0.004f)
                    : m.weight(name, new int[] {d[0], d[1], d[2], d[2]}, 0, new float[] {0.004f}, new int[] {127});
            Value x = m.input("x", 1, 4, 8, 8);
            Value c1 = m.conv("conv1", m.qdq(x, 1f / 127), w.apply("w1", new int[] {8, 4, 3}), 1, 1);
            Value shared = c1;
            List<String> convs = List.of("conv1", "conv2", "conv3");
            switch (shape) {
                case "two readers" -> {
                    Value a = m.conv("conv2", m.qdq(c1, 0.03f), w.apply("w2", new int[] {8, 8, 1}), 0, 1);
                    Value b = m.conv("conv3", m.qdq(c1, 0.21f), w.apply("w3", new int[] {4, 8, 1}), 0, 1);
                    m.outputs(m.qdq(a, 0.1f), m.qdq(b, 0.1f));
                }
                case "residual" -> {
                    shared = m.node("Relu", "relu1", c1);
                    Value c2 = m.conv("conv2", m.qdq(shared, 0.03f), w.apply("w2", new int[] {8, 8, 3}), 1, 1);
                    Value add = m.node("Add", "add", m.qdq(c2, 0.06f), m.qdq(shared, 0.21f));
                    m.outputs(m.qdq(m.conv("conv3", m.qdq(add, 0.1f), w.apply("w3", new int[] {4, 8, 1}), 0, 1), 0.1f));
                }
                default -> {
                    convs = List.of("conv1", "conv2");
                    m.outputs(m.qdq(m.conv("conv2", m.qdq(m.qdq(c1, 0.03f), 0.21f), w.apply("w2", new int[] {8, 8, 1}), 0, 1), 0.1f));
                }
            }
            String what = shape + (perChannel ? ", per-channel weights" : ", per-tensor weights");
            ExplicitQuantization.Result f = fold(m.g);
            assertEquals(convs, f.quantizedNodes(), what);
            assertEquals(shape.equals("chain") ? (Float) 0.03f : null, f.scales().get(shared.name()), what + ": " + f.scales());
            assertEquals(java.util.Set.of(shared.name()), f.requantized().keySet(), what);
            assertEquals(shape.equals("chain") ? 1 : 2, f.requantized().get(shared.name()).size(), what);
            for (String dq : f.requantized().get(shared.name())) assertNotNull(f.scales().get(dq), dq);
            assertTrue(f.describe().contains("1 tensor(s) read at several scales, the pairs on their readers' edges kept as QuantizeLinear/DequantizeLinear nodes: %"
                    + shared.name() + " (" + f.requantized().get(shared.name()).size() + " pairs)"), f.describe());
            QdqModels.Built b = QdqModels.build(m.g);
            for (String c : convs) {
                String at = c;
                for (var grp : b.applied().plan().groups()) if (grp.members().contains(c)) at = grp.name();
                assertEquals(Precision.INT8, b.applied().plan().node(at).precision(), what + ": " + c + " (as " + at + ")");
            }
            if (!shape.equals("chain")) {
                // the GPU builder: the Q/DQ nodes are per-tensor elementwise kernels it has, but its INT8 kernels requantize every output,
                // so the producer that writes the tensor in float is refused, naming it and the tensor
                var gpu = assertThrows(org.tessel.runtime.gpu.engine.GpuEngineException.class, () -> org.tessel.runtime.gpu.engine.GpuEngine.checkPlan(
                        b.applied().graph(), b.applied().plan(), org.tessel.runtime.gpu.engine.GpuEngine.Precision.FP32));
                assertTrue(gpu.getMessage().startsWith("cannot build a GPU engine: the plan runs node '") && gpu.getMessage().contains("conv1")
                        && gpu.getMessage().contains(" at int8 and has no scale for its tensor %"), gpu.getMessage());
            }
            double worstQdq = 0, wrong = 0;
            Graph oneScale = m.g.copy();
            // what keeping one scale per tensor would compute: the second pair at the first pair's scale
            for (Node n : oneScale.nodes())
                if (n.opName().endsWith("QuantizeLinear") && n.input(1).constantValue().getFloat(0) == 0.21f)
                    oneScale.setNodeInput(n, 1, oneScale.addConstant(oneScale.uniqueValueName("s_first"), Tensor.ofFloats(Shape.scalar(), 0.03f)));
            for (long seed = 1; seed <= 3; seed++) {
                List<Tensor> in = QdqModels.inputs(m.g, seed);
                List<Tensor> got = b.engine().createContext().run(in), want = new ReferenceInterpreter().run(m.g, in), other = new ReferenceInterpreter().run(oneScale, in);
                for (int k = 0; k < got.size(); k++) {
                    worstQdq = Math.max(worstQdq, Tensor.relativeL2(want.get(k), got.get(k)));
                    wrong = Math.max(wrong, Tensor.relativeL2(other.get(k), got.get(k)));
                }
            }
            System.out.printf("%s: CPU INT8 engine vs ONNX Q/DQ semantics rel L2 %.2e; vs one scale per tensor %.2e%n", what, worstQdq, wrong);
            assertTrue(worstQdq < 1e-6, what + ": vs Q/DQ " + worstQdq);
            assertTrue(wrong > 1e-3, what + ": the second scale matters: " + wrong);
        }
    }

    @Test void aMaxPoolWhoseIndicesAreReadIsRefused() {
        QdqModels m = new QdqModels("idx", 9);
        Value x = m.input("x", 1, 4, 4, 4);
        Node pool = m.g.addNode(org.tessel.api.OpRegistry.global().get("", "MaxPool"), "pool", List.of(m.qdq(x, 0.1f)),
                Attributes.empty().with("kernel_shape", AttrValue.of(new long[] {2, 2})), 2);
        m.outputs(m.conv("conv", pool.output(0), m.convWeight("w", 4, 4, 1, 0.01f), 0, 1), pool.output(1));
        var e = assertThrows(ExplicitQuantization.QdqException.class, () -> fold(m.g));
        assertTrue(e.getMessage().startsWith("node 'pool' (MaxPool): the Q/DQ pair on %x cannot move past it (its Indices output %"), e.getMessage());
    }

    /**
     * Random chains of commuting ops between a pair and a Gemm: the Q/DQ graph computes the same
     * after propagation, bit for bit, and the Gemm (and only it) is marked.
     */
    @Property(tries = 60)
    void randomCommutingChainsPropagateExactlyAndMarkTheGemm(@ForAll long seed, @ForAll @IntRange(min = 1, max = 5) int length) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        QdqModels m = new QdqModels("chain", seed);
        Value x = m.input("x", 1, 4, 6, 6);
        float s = (float) (0.01 + r.nextDouble() * 0.2);
        Value v = m.qdq(x, s);
        StringBuilder ops = new StringBuilder();
        for (int i = 0; i < length; i++) {
            int k = r.nextInt(8);
            String name = "op" + i;
            ops.append(k).append(' ');
            int[] d = v.type().shape().dims();
            v = switch (k) {
                case 0 -> m.node("Relu", name, v);
                case 1 -> d[2] > 2 ? m.maxPool(name, v, 2, 1, 0) : m.node("Relu", name, v);
                case 2 -> m.node("Transpose", name, Attributes.empty().with("perm", AttrValue.of(new long[] {0, 1, 3, 2})), v);
                case 3 -> m.node("Pad", name, v, m.ints("pads", 0, 0, 1, 0, 0, 0, 0, 1));
                case 4 -> d[2] > 2 ? m.node("Slice", name, v, m.ints("st", 1), m.ints("en", d[2]), m.ints("ax", 2)) : m.node("Relu", name, v);
                case 5 -> m.node("Concat", name, Attributes.empty().with("axis", AttrValue.of(1L)), v, v);
                case 6 -> m.node("Squeeze", name, m.node("Unsqueeze", name + "u", v, m.ints("ua", 0)), m.ints("sa", 0));
                default -> m.node("Reshape", name, v, m.ints("rs", d[0], d[1], d[3], d[2]));
            };
        }
        Value flat = m.node("Flatten", "flat", v);
        int kk = flat.type().shape().dim(1);
        Value w = m.weight("w", new int[] {3, kk}, 0, new float[] {0.01f, 0.02f, 0.03f}, new int[] {127});
        m.outputs(m.node("Gemm", "fc", Attributes.empty().with("transB", AttrValue.of(1L)), flat, w));
        QdqPropagation.Result pr = propagatesExactly(m.g, seed);
        assertTrue(pr.forward() >= length, "ops " + ops + ": " + pr.added());
        ExplicitQuantization.Result f = fold(m.g);
        assertEquals(List.of("fc"), f.quantizedNodes(), "ops " + ops);
        assertEquals(s, f.scales().get("flat"));
    }

    /**
     * A ResNet-style network in ModelOpt's placement (pairs before each Conv's activation but the one
     * after the stem's MaxPool, which has its pair before the pool; the residual Add's two inputs
     * quantized; the classifier's input after GlobalAveragePool), written as ONNX and imported: it
     * folds with every Conv and the Gemm marked and runs on the CPU engine at INT8 within 5% relative
     * L2 of the float model (the folded graph run in f32), and within 2% of ONNX's Q/DQ semantics.
     */
    /** The network; each pair's scale from {@code scales} by the tensor it quantizes (0.01 where absent). */
    private static Graph resnetQdq(java.util.Map<String, Float> scales) {
        QdqModels m = new QdqModels("resnet_qdq", 11);
        java.util.function.Function<Value, Value> q = v -> m.qdq(v, scales.getOrDefault(v.name(), 0.01f));
        // four input channels: the INT8 convolutions take channel counts that are multiples of 4 (an RGB image padded with a zero plane)
        Value x = m.input("x", 1, 4, 32, 32);
        Value stem = m.node("Relu", "stem_relu", m.conv("stem", q.apply(x), m.convWeight("w_stem", 16, 4, 3, 0.004f), 1, 1));
        Value pool = m.maxPool("pool", q.apply(stem), 3, 2, 1);
        Value c1 = m.node("Relu", "relu1", m.conv("conv1", pool, m.convWeight("w1", 16, 16, 3, 0.002f), 1, 1));
        Value c2 = m.conv("conv2", q.apply(c1), m.convWeight("w2", 16, 16, 3, 0.002f), 1, 1);
        Value sum = m.node("Relu", "relu2", m.node("Add", "add", q.apply(c2), m.qdq(pool, scales.getOrDefault(stem.name(), 0.01f))));
        Value gap = m.node("GlobalAveragePool", "gap", sum);
        Value flat = m.node("Flatten", "flat", q.apply(gap));
        m.outputs(m.node("Gemm", "fc", Attributes.empty().with("transB", AttrValue.of(1L)), flat,
                m.weight("w_fc", new int[] {12, 16}, 0, new float[] {0.01f}, new int[] {127})));
        return m.g;
    }

    /**
     * A ResNet-style network in ModelOpt's placement (pairs before each Conv's activation but the one
     * after the stem's MaxPool, which has its pair before the pool; the residual Add's two inputs
     * quantized; the classifier's input after GlobalAveragePool), its scales the float model's
     * amax/127 over a few inputs, written as ONNX and imported: it folds with every Conv and the Gemm
     * marked and runs on the CPU engine at INT8 within 3% relative L2 of the float model (the folded
     * graph run in f32), and within 1e-5 of ONNX's Q/DQ semantics on the reference interpreter.
     */
    @Test void aResNetBlockWithMaxPoolStemAndResidualAddRunsAtInt8() throws Exception {
        // the float model (any scales fold to the same float graph), run to find each quantized tensor's range
        Graph floatModel = resnetQdq(java.util.Map.of()).copy();
        ExplicitQuantization.fold(floatModel);
        java.util.Map<String, Float> amax = new java.util.TreeMap<>();
        for (long seed = 100; seed < 104; seed++) {
            List<Tensor> in = QdqModels.inputs(floatModel, seed);
            amax.merge("x", 1f, Math::max);
            new ReferenceInterpreter().withListener((n, outs, nanos) -> {
                for (int k = 0; k < outs.size(); k++) {
                    float a = 0;
                    for (int i = 0; i < outs.get(k).size(); i++) a = Math.max(a, Math.abs(outs.get(k).getFloat(i)));
                    amax.merge(n.output(k).name(), a, Math::max);
                }
            }).run(floatModel, in);
        }
        java.util.Map<String, Float> scales = new java.util.TreeMap<>();
        for (var e : amax.entrySet()) scales.put(e.getKey(), e.getValue() / 127);
        Graph model = resnetQdq(scales);
        Path onnx = dir.resolve("resnet_qdq.onnx");
        OnnxExporter.export(model, onnx);
        Graph imported = OnnxImporter.importModel(onnx);
        assertTrue(ExplicitQuantization.present(imported));
        QdqModels.Built b = QdqModels.build(imported);
        assertEquals(List.of("stem", "conv1", "conv2", "fc"), b.qdq().quantizedNodes(), b.qdq().describe());
        assertEquals(Precision.INT8, b.qdq().format());
        int int8 = b.applied().plan().precisionMix().getOrDefault(Precision.INT8, 0);
        assertEquals(4, int8, b.applied().plan().precisionMix().toString());
        double worstFloat = 0, worstQdq = 0;
        for (long seed = 1; seed <= 3; seed++) {
            List<Tensor> in = QdqModels.inputs(imported, seed);
            Tensor engine = b.engine().createContext().run(in).getFirst();
            double vsFloat = Tensor.relativeL2(run(b.folded(), in), engine), vsQdq = Tensor.relativeL2(run(imported, in), engine);
            worstFloat = Math.max(worstFloat, vsFloat);
            worstQdq = Math.max(worstQdq, vsQdq);
        }
        System.out.printf("resnet-style Q/DQ block, CPU INT8 engine: rel L2 %.4f vs the float model, %.2e vs ONNX Q/DQ semantics%n", worstFloat, worstQdq);
        assertTrue(worstFloat > 1e-4, "INT8 really quantizes: " + worstFloat);
        assertTrue(worstFloat < 0.03, "vs float " + worstFloat);
        assertTrue(worstQdq < 1e-5, "vs Q/DQ " + worstQdq);
    }
}

package org.tessel.runtime.calib;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.engine.PrecisionEmulation;

/**
 * Explicit quantization's folding: a weight DequantizeLinear at the engine's own scales (amax/127
 * per output channel) folds into float constants that the CPU engine's per-channel re-quantization
 * gives back bit for bit; activation pairs become scales; bad Q/DQ is refused naming the node.
 */
class ExplicitQuantizationTest {
    private static final OpRegistry OPS = OpRegistry.global();

    /** Weights quantized per channel at amax/127, dequantized as DequantizeLinear does, then re-quantized by the engine: the same floats. */
    @Property(tries = 300)
    void foldedWeightsAtAmaxOver127AreReproducedExactly(@ForAll long seed, @ForAll @IntRange(min = 1, max = 16) int channels, @ForAll @IntRange(min = 1, max = 40) int inner,
                                                        @ForAll @IntRange(min = -30, max = 30) int exponent) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        float[] w = new float[channels * inner];
        double mag = Math.pow(2, exponent);
        for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextDouble(-1, 1) * mag * (1 + r.nextInt(1000)));
        Tensor wt = Tensor.ofFloats(DType.F32, Shape.of(channels, inner), w);
        float[] s = PrecisionEmulation.channelScales(wt, 0);
        long[] codes = new long[w.length];
        for (int i = 0; i < w.length; i++) codes[i] = PrecisionEmulation.quantize(w[i], s[i / inner]);
        Graph g = new Graph("w");
        Value q = g.addConstant("wq", Tensor.ofLongs(DType.I8, wt.shape(), codes));
        Value sc = g.addConstant("ws", Tensor.ofFloats(DType.F32, Shape.of(channels), s));
        Value zp = g.addConstant("wz", Tensor.zeros(DType.I8, Shape.of(channels)));
        Value x = g.addInput("x", org.tessel.api.TensorType.of(DType.F32, Shape.of(2, inner)));
        Node dq = g.addNode(OPS.get("", "DequantizeLinear"), "dq", List.of(q, sc, zp), Attributes.empty().with("axis", AttrValue.of(0L)), 1);
        // MatMul's weight [K, N] has its channels on the last axis: transpose the codes' meaning by using Gemm with transB
        Node gemm = g.addNode(OPS.get("", "Gemm"), "fc", List.of(x, dq.output(0)), Attributes.empty().with("transB", AttrValue.of(1L)), 1);
        g.setOutputs(List.of(gemm.output(0)));
        ExplicitQuantization.Result res = ExplicitQuantization.fold(g);
        assertEquals(1, res.weights());
        Tensor folded = g.nodes().getFirst().input(1).constantValue();
        assertArrayEquals(s, res.weightScales().get(g.nodes().getFirst().input(1).name()), "the plan carries the model's channel scales");
        Tensor again = PrecisionEmulation.fakeQuantizePerChannel(folded, 0);
        for (int i = 0; i < w.length; i++) {
            assertEquals(Float.floatToIntBits(folded.getFloat(i)), Float.floatToIntBits(again.getFloat(i)), "element " + i);
            assertEquals((float) (codes[i] * (double) s[i / inner]), folded.getFloat(i));
        }
    }

    /**
     * A model whose weight codes reach only 100 (a scale coarser than amax/127), per tensor and per
     * channel: the CPU INT8 engine computes with exactly the model's codes and scales (equal to the sum
     * written out in doubles, up to the f32 sums' rounding), which re-quantizing at amax/127 would not;
     * the GPU's INT8 weights are given the same codes.
     */
    @Test void theEngineComputesWithTheModelsOwnWeightCodesAndScales() {
        for (boolean perChannel : new boolean[] {false, true}) {
            QdqModels m = new QdqModels("coarse", 21);
            Value x = m.input("x", 3, 8);
            float sx = 0.01f;
            float[] ws = perChannel ? new float[] {0.02f, 0.005f, 0.011f, 0.03f} : new float[] {0.02f};
            Value w = m.weight("w", new int[] {4, 8}, 0, ws, new int[] {100, 100, 64, 3});
            m.outputs(m.node("Gemm", "fc", Attributes.empty().with("transB", AttrValue.of(1L)), m.qdq(x, sx), w));
            long[] codes = new long[32];
            Tensor ct = m.g.value("w_codes").constantValue();
            for (int i = 0; i < 32; i++) codes[i] = ct.getLong(i);
            QdqModels.Built b = QdqModels.build(m.g);
            assertEquals(List.of("fc"), b.qdq().quantizedNodes());
            float[] channel = new float[4];
            for (int n = 0; n < 4; n++) channel[n] = ws[perChannel ? n : 0];
            assertArrayEquals(channel, b.applied().plan().quantization().weightScales("w", 4), "the plan carries the model's scales");
            List<Tensor> in = QdqModels.inputs(m.g, 5);
            Tensor got = b.engine().createContext().run(in).getFirst();
            double[] hand = new double[12];
            double big = 0;
            for (int i = 0; i < 3; i++)
                for (int n = 0; n < 4; n++) {
                    double acc = 0;
                    for (int k = 0; k < 8; k++) acc += Math.rint(in.getFirst().getFloat(i * 8 + k) / sx) * codes[n * 8 + k];
                    hand[i * 4 + n] = acc * sx * channel[n];
                    big = Math.max(big, Math.abs(hand[i * 4 + n]));
                }
            for (int i = 0; i < 12; i++) assertEquals(hand[i], got.getFloat(i), 1e-6 * big, (perChannel ? "per channel" : "per tensor") + ", element " + i);
            // amax/127 per channel is another grid: re-quantizing the folded weight there moves its values
            Tensor folded = b.folded().value("w").constantValue();
            Tensor again = PrecisionEmulation.fakeQuantizePerChannel(folded, 0);
            assertFalse(folded.dataEquals(again), "codes up to 100 are not on the amax/127 grid");
            // what the GPU's INT8 GEMM is given: the model's codes, channel-major, and its scales
            var q = org.tessel.runtime.gpu.kernels.Int8Weights.forGemm(folded, true, b.applied().plan().quantization().weightScales("w", 4));
            for (int i = 0; i < 32; i++) assertEquals(codes[i], q.codes()[i], "code " + i);
            assertArrayEquals(channel, q.scales());
        }
    }

    @Test void activationPairsBecomeScalesAndTheContractionIsMarked() {
        Graph g = new Graph("m");
        Value x = g.addInput("x", org.tessel.api.TensorType.of(DType.F32, Shape.of(2, 3)));
        Value s = g.addConstant("s", Tensor.ofFloats(Shape.scalar(), 0.25f));
        Value z = g.addConstant("z", Tensor.zeros(DType.I8, Shape.scalar()));
        Node q = g.addNode(OPS.get("", "QuantizeLinear"), "q", List.of(x, s, z), Attributes.empty(), 1);
        Node d = g.addNode(OPS.get("", "DequantizeLinear"), "d", List.of(q.output(0), s, z), Attributes.empty(), 1);
        Value w = g.addConstant("w", Tensor.ofLongs(DType.I8, Shape.of(3, 4), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 127));
        Value ws = g.addConstant("ws", Tensor.ofFloats(Shape.scalar(), 0.5f));
        Node dw = g.addNode(OPS.get("", "DequantizeLinear"), "dw", List.of(w, ws, z), Attributes.empty(), 1);
        Node mm = g.addNode(OPS.get("", "MatMul"), "mm", List.of(d.output(0), dw.output(0)), Attributes.empty(), 1);
        g.setOutputs(List.of(mm.output(0)));
        ExplicitQuantization.Result r = ExplicitQuantization.fold(g);
        assertEquals(Map.of("x", 0.25f), r.scales());
        assertEquals(List.of("mm"), r.quantizedNodes());
        assertEquals(1, r.activationPairs());
        assertEquals(1, g.nodes().size());
        assertSame(x, g.nodes().getFirst().input(0));
        // one scale for all four output channels (MatMul's last axis): the plan carries it per channel, whatever the codes' range
        assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f, 0.5f}, r.weightScales().get(g.nodes().getFirst().input(1).name()));
    }

    /** x -> Q/DQ (zero point of {@code zt}) -> MatMul with a DQ'd weight of {@code wt}; {@code saturate} on the activation's Q. */
    private static Graph pairAndWeight(DType zt, DType wt, long saturate) {
        Graph g = new Graph("m");
        Value x = g.addInput("x", org.tessel.api.TensorType.of(DType.F32, Shape.of(2, 3)));
        Value s = g.addConstant("s", Tensor.ofFloats(Shape.scalar(), 1f / 448));
        Value z = g.addConstant("z", Tensor.zeros(zt, Shape.scalar()));
        Node q = g.addNode(OPS.get("", "QuantizeLinear"), "q", List.of(x, s, z), Attributes.empty().with("saturate", AttrValue.of(saturate)), 1);
        Node d = g.addNode(OPS.get("", "DequantizeLinear"), "d", List.of(q.output(0), s, z), Attributes.empty(), 1);
        Value w = wt == DType.F8E4M3 ? g.addConstant("w", Tensor.ofFloats(DType.F8E4M3, Shape.of(3, 4), new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 448}))
                : g.addConstant("w", Tensor.ofLongs(wt, Shape.of(3, 4), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 127));
        Value ws = g.addConstant("ws", Tensor.ofFloats(Shape.scalar(), 0.5f));
        Value wz = g.addConstant("wz", Tensor.zeros(wt, Shape.scalar()));
        Node dw = g.addNode(OPS.get("", "DequantizeLinear"), "dw", List.of(w, ws, wz), Attributes.empty(), 1);
        Node mm = g.addNode(OPS.get("", "MatMul"), "mm", List.of(d.output(0), dw.output(0)), Attributes.empty(), 1);
        g.setOutputs(List.of(mm.output(0)));
        return g;
    }

    @Test void float8PairsFoldIntoFp8NodesAndMixedOrUnsaturatedFloat8IsRefused() {
        Graph g = pairAndWeight(DType.F8E4M3, DType.F8E4M3, 1);
        ExplicitQuantization.Result r = ExplicitQuantization.fold(g);
        assertEquals(org.tessel.cost.Precision.FP8, r.format());
        assertEquals(Map.of("x", 1f / 448), r.scales());
        assertEquals(List.of("mm"), r.quantizedNodes());
        assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f, 0.5f}, r.weightScales().get(g.nodes().getFirst().input(1).name()));
        assertEquals(1, g.nodes().size());
        assertEquals(224f, g.nodes().getFirst().input(1).constantValue().getFloat(11));
        assertTrue(r.describe().contains("1 nodes marked FP8"), r.describe());

        var mixed = assertThrows(ExplicitQuantization.QdqException.class, () -> ExplicitQuantization.fold(pairAndWeight(DType.F8E4M3, DType.I8, 1)));
        assertEquals("node 'q' (QuantizeLinear): float8 Q/DQ in a model with integer Q/DQ (node 'dw' (DequantizeLinear)); a plan has one quantized format, INT8 or FP8", mixed.getMessage());
        var unsaturated = assertThrows(ExplicitQuantization.QdqException.class, () -> ExplicitQuantization.fold(pairAndWeight(DType.F8E4M3, DType.F8E4M3, 0)));
        assertEquals("node 'q' (QuantizeLinear): saturate=0 (values past 448 become NaN); the engine's FP8 saturates at +-448 (ONNX's default saturate=1)", unsaturated.getMessage());
        // E5M2 runs on the reference interpreter, but the engine's FP8 is E4M3
        var e5m2 = assertThrows(ExplicitQuantization.QdqException.class, () -> ExplicitQuantization.fold(pairAndWeight(DType.F8E5M2, DType.F8E4M3, 1)));
        assertEquals("node 'q' (QuantizeLinear): float8e5m2 Q/DQ; the engine's FP8 is E4M3 (float8e4m3fn), so explicit quantization takes int8 or float8e4m3fn pairs "
                + "(the reference interpreter runs it as ONNX defines it)", e5m2.getMessage());
        var fnuz = assertThrows(ExplicitQuantization.QdqException.class, () -> ExplicitQuantization.fold(pairAndWeight(DType.F8E4M3FNUZ, DType.F8E4M3, 1)));
        assertTrue(fnuz.getMessage().startsWith("node 'q' (QuantizeLinear): float8e4m3fnuz Q/DQ; the engine's FP8 is E4M3 (float8e4m3fn)"), fnuz.getMessage());
    }

    @Test void aNonZeroZeroPointIsRefusedNamingTheNode() {
        Graph g = new Graph("m");
        Value x = g.addInput("x", org.tessel.api.TensorType.of(DType.F32, Shape.of(2, 3)));
        Value s = g.addConstant("s", Tensor.ofFloats(Shape.scalar(), 0.25f));
        Value z = g.addConstant("z", Tensor.ofLongs(DType.I8, Shape.scalar(), 5));
        Node q = g.addNode(OPS.get("", "QuantizeLinear"), "q", List.of(x, s, z), Attributes.empty(), 1);
        Node d = g.addNode(OPS.get("", "DequantizeLinear"), "d", List.of(q.output(0), s, z), Attributes.empty(), 1);
        g.setOutputs(List.of(d.output(0)));
        var e = assertThrows(ExplicitQuantization.QdqException.class, () -> ExplicitQuantization.fold(g));
        assertEquals("node 'q' (QuantizeLinear): zero point 5 is not 0: asymmetric quantization; Tessel's INT8 is symmetric (zero point 0)", e.getMessage());
    }
}

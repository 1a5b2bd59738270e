package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/** tessel.WeightOnlyMatMul and tessel.W8A8MatMul: shape inference, errors naming the node and input, the quantizer's bounds. */
class QuantizedMatMulOpsTest {
    static float[] normal(SplittableRandom r, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * std);
        return v;
    }

    static Attributes attrs(long bits, long group) { return Attributes.builder().put("bits", bits).put("group_size", group).build(); }

    /** A graph of one WeightOnlyMatMul node named "proj" with A of the given shape. */
    static Graph graph(TensorType a, WeightQuantizer.Quantized q, long bits, long group) {
        Graph g = new Graph("wo");
        Value x = g.addInput("a", a);
        Value w = g.addConstant("w", q.codes()), s = g.addConstant("s", q.scales());
        List<Value> ins = q.zeroPoints() == null ? List.of(x, w, s) : List.of(x, w, s, g.addConstant("z", q.zeroPoints()));
        Node n = g.addNode(OpRegistry.global().get(QuantizedMatMulOps.WEIGHT_ONLY), "proj", ins, attrs(bits, group), 1);
        g.setOutputs(List.of(n.output()));
        return g;
    }

    @Test void infersBatchedShapeInTheActivationsType() {
        var f = new WeightQuantizer.Format(4, 32, true);
        var q = WeightQuantizer.quantize(normal(new SplittableRandom(1), 64 * 48, 0.1), 64, 48, f, DType.F16);
        assertEquals(TensorType.of(DType.F32, Shape.of(2, 5, 48)), graph(TensorType.of(DType.F32, Shape.of(2, 5, 64)), q, 4, 32).outputs().getFirst().type());
        assertEquals(TensorType.of(DType.BF16, Shape.of(1, 48)), graph(TensorType.of(DType.BF16, Shape.of(1, 64)), q, 4, 32).outputs().getFirst().type());
        assertEquals(Shape.of(48, 32), q.codes().shape());
        assertEquals(DType.U8, q.codes().dtype());
        assertEquals(Shape.of(48, 2), q.scales().shape());
    }

    @Test void errorsNameTheNodeAndWhatIsWrong() {
        var f = new WeightQuantizer.Format(4, 32, true);
        var q = WeightQuantizer.quantize(normal(new SplittableRandom(2), 64 * 8, 0.1), 64, 8, f, DType.F16);
        IrException e = assertThrows(IrException.class, () -> graph(TensorType.of(DType.F32, Shape.of(1, 64)), q, 4, 48));
        assertTrue(e.getMessage().contains("node 'proj' (tessel.WeightOnlyMatMul)") && e.getMessage().contains("group_size 48 does not divide K=64"), e.getMessage());
        e = assertThrows(IrException.class, () -> graph(TensorType.of(DType.F32, Shape.of(1, 64)), q, 8, 32));
        assertTrue(e.getMessage().contains("W must be i8"), e.getMessage());
        e = assertThrows(IrException.class, () -> graph(TensorType.of(DType.F32, Shape.of(1, 64)), q, 5, 32));
        assertTrue(e.getMessage().contains("bits must be 4 or 8, got 5"), e.getMessage());
        e = assertThrows(IrException.class, () -> graph(TensorType.of(DType.F32, Shape.of(1, 128)), q, 4, 32));
        assertTrue(e.getMessage().contains("must have 64 columns for K=128"), e.getMessage());
        e = assertThrows(IrException.class, () -> graph(TensorType.of(DType.I64, Shape.of(1, 64)), q, 4, 32));
        assertTrue(e.getMessage().contains("input A has element type i64"), e.getMessage());
        var other = WeightQuantizer.quantize(normal(new SplittableRandom(2), 64 * 8, 0.1), 64, 8, new WeightQuantizer.Format(4, 16, true), DType.F16);
        e = assertThrows(IrException.class, () -> graph(TensorType.of(DType.F32, Shape.of(1, 64)), new WeightQuantizer.Quantized(f, 8, 64, q.codes(), other.scales(), null), 4, 32));
        assertTrue(e.getMessage().contains("scales must be [N, K/group_size] = [8,2], got [8,4]"), e.getMessage());
        assertThrows(OpException.class, () -> new WeightQuantizer.Format(4, 33, true));
        assertThrows(OpException.class, () -> WeightQuantizer.quantize(new float[100 * 2], 100, 2, new WeightQuantizer.Format(8, 64, true), DType.F32));
    }

    @Test void w8a8ChecksItsScales() {
        Graph g = new Graph("w8a8");
        Value x = g.addInput("a", TensorType.of(DType.F32, Shape.of(3, 16)));
        Value w = g.addConstant("w", Tensor.ofLongs(DType.I8, Shape.of(4, 16), new long[64]));
        Value ws = g.addConstant("ws", Tensor.ofFloats(Shape.of(5), new float[5]));
        Value as = g.addConstant("as", Tensor.ofFloats(Shape.of(), 0.1f));
        IrException e = assertThrows(IrException.class, () -> g.addNode(OpRegistry.global().get(QuantizedMatMulOps.W8A8), "fc", List.of(x, w, ws, as), Attributes.empty(), 1));
        assertTrue(e.getMessage().contains("node 'fc' (tessel.W8A8MatMul): w_scales must be f32 [N] = [4]"), e.getMessage());
    }

    /** |w - dequantize(quantize(w))| <= scale / 2 per group (the f32 division's rounding aside), in every format. */
    @Property(tries = 200)
    void roundTripIsWithinHalfAStep(@ForAll @IntRange(min = 0, max = 1 << 20) int seed, @ForAll boolean four, @ForAll boolean symmetric,
                                    @ForAll @IntRange(min = 1, max = 4) int groupLog, @ForAll boolean f16) {
        SplittableRandom r = new SplittableRandom(seed);
        int group = 8 << groupLog, k = group * (1 + r.nextInt(3)), n = 1 + r.nextInt(9);
        float[] w = normal(r, k * n, Math.exp(r.nextDouble(-6, 2)));
        if (r.nextBoolean()) w[r.nextInt(w.length)] *= 40; // an outlier
        var f = new WeightQuantizer.Format(four ? 4 : 8, group, symmetric);
        var q = WeightQuantizer.quantize(w, k, n, f, f16 ? DType.F16 : DType.F32);
        float[] deq = WeightQuantizer.dequantize(q.codes(), q.scales(), q.zeroPoints(), f.bits(), group, n, k);
        float[] s = q.scales().floats();
        for (int row = 0; row < n; row++)
            for (int c = 0; c < k; c++) {
                float sc = s[row * (k / group) + c / group];
                double err = Math.abs(w[c * n + row] - deq[row * k + c]);
                assertTrue(err <= sc / 2 * (1 + 1e-5) + Math.ulp(w[c * n + row]), "row " + row + " col " + c + ": error " + err + " > scale/2 = " + sc / 2);
            }
        for (long code : q.codes().longs()) assertTrue(code >= (f.codeType() == DType.I8 ? -127 : 0) && code <= (f.codeType() == DType.I8 ? 127 : 255));
    }

    /** The reference of WeightOnlyMatMul is the plain product with the dequantized weight; W8A8's the int product scaled. */
    @Property(tries = 50)
    void referenceMultipliesTheDequantizedWeight(@ForAll @IntRange(min = 0, max = 1 << 20) int seed, @ForAll boolean four) {
        SplittableRandom r = new SplittableRandom(seed);
        int k = 64, n = 1 + r.nextInt(20), m = 1 + r.nextInt(5);
        var f = new WeightQuantizer.Format(four ? 4 : 8, 32, r.nextBoolean());
        var q = WeightQuantizer.quantize(normal(r, k * n, 0.2), k, n, f, DType.F16);
        Graph g = graph(TensorType.of(DType.F32, Shape.of(m, k)), q, f.bits(), 32);
        float[] a = normal(r, m * k, 1);
        float[] y = new ReferenceInterpreter().run(g, List.of(Tensor.ofFloats(Shape.of(m, k), a))).getFirst().floats();
        float[] deq = WeightQuantizer.dequantize(q.codes(), q.scales(), q.zeroPoints(), f.bits(), 32, n, k);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double want = 0;
                for (int c = 0; c < k; c++) want += (double) a[i * k + c] * deq[j * k + c];
                assertEquals(want, y[i * n + j], 1e-4 * (1 + Math.abs(want)));
            }
    }
}

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

/** tessel.LoraDelta: the reference against x·W + scale·(x·Aᵀ)·Bᵀ computed directly per row's adapter, zero padding exact, errors naming the input. */
class LoraOpsTest {
    static float[] normal(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    /** y = MatMul(x, W) + LoraDelta(x, A, B, scales, ids) as a graph. */
    static Graph graph(TensorType x, Tensor w, Tensor a, Tensor b, Tensor s, TensorType ids) {
        Graph g = new Graph("lora");
        Value xv = g.addInput("x", x), idv = g.addInput("adapter_ids", ids);
        Node mm = g.addNode(OpRegistry.global().get("MatMul"), "base", List.of(xv, g.addConstant("w", w)), Attributes.empty(), 1);
        Node d = g.addNode(OpRegistry.global().get(LoraOps.DELTA), "delta",
                List.of(xv, g.addConstant("a", a), g.addConstant("b", b), g.addConstant("s", s), idv), Attributes.empty(), 1);
        Node y = g.addNode(OpRegistry.global().get("Add"), "y", List.of(mm.output(), d.output()), Attributes.empty(), 1);
        g.setOutputs(List.of(y.output()));
        return g;
    }

    @Property(tries = 60)
    void referenceEqualsTheDirectProductPerRowsAdapter(@ForAll @IntRange(min = 1, max = 3) int batch, @ForAll @IntRange(min = 1, max = 3) int tokens,
                                                       @ForAll @IntRange(min = 1, max = 9) int k, @ForAll @IntRange(min = 1, max = 7) int n,
                                                       @ForAll @IntRange(min = 1, max = 3) int slots, @ForAll @IntRange(min = 1, max = 4) int rank,
                                                       @ForAll @IntRange(min = 0, max = 1000) int seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = normal(r, batch * tokens * k), w = normal(r, k * n), a = normal(r, slots * rank * k), b = normal(r, slots * n * rank), s = new float[slots];
        for (int i = 0; i < slots; i++) s[i] = 0.25f + i;
        long[] ids = new long[batch];
        for (int i = 0; i < batch; i++) ids[i] = r.nextInt(slots + 1);
        Graph g = graph(TensorType.of(DType.F32, Shape.of(batch, tokens, k)), Tensor.ofFloats(Shape.of(k, n), w), Tensor.ofFloats(Shape.of(slots, rank, k), a),
                Tensor.ofFloats(Shape.of(slots, n, rank), b), Tensor.ofFloats(Shape.of(slots), s), TensorType.of(DType.I64, Shape.of(batch)));
        float[] y = new ReferenceInterpreter().run(g, List.of(Tensor.ofFloats(Shape.of(batch, tokens, k), x), Tensor.ofLongs(DType.I64, Shape.of(batch), ids))).getFirst().floats();
        for (int row = 0; row < batch; row++)
            for (int t = 0; t < tokens; t++)
                for (int j = 0; j < n; j++) {
                    int xi = (row * tokens + t) * k;
                    double base = 0, delta = 0, mag = 0;
                    for (int c = 0; c < k; c++) { base += (double) x[xi + c] * w[c * n + j]; mag += Math.abs((double) x[xi + c] * w[c * n + j]); }
                    int sl = (int) ids[row] - 1;
                    if (sl >= 0)
                        for (int q = 0; q < rank; q++) {
                            double u = 0;
                            for (int c = 0; c < k; c++) u += (double) x[xi + c] * a[(sl * rank + q) * k + c];
                            delta += u * b[(sl * n + j) * rank + q];
                            mag += Math.abs(u * b[(sl * n + j) * rank + q]) * s[sl];
                        }
                    double want = base + (sl >= 0 ? s[sl] * delta : 0);
                    assertEquals(want, y[(row * tokens + t) * n + j], 1e-5 * (1 + mag), "row " + row + " token " + t + " column " + j + " adapter " + ids[row]);
                }
    }

    @Test void rowsWithoutAnAdapterGetExactlyTheBaseAndZeroPaddedRanksChangeNothing() {
        SplittableRandom r = new SplittableRandom(3);
        int k = 6, n = 5;
        float[] x = normal(r, 2 * k), a = normal(r, 2 * k), b = normal(r, n * 2);
        // the same rank-2 adapter alone, and padded to rank 4 beside a second adapter
        float[] a4 = new float[2 * 4 * k], b4 = new float[2 * n * 4];
        System.arraycopy(a, 0, a4, 0, 2 * k);
        for (int j = 0; j < n; j++) System.arraycopy(b, j * 2, b4, j * 4, 2);
        for (int i = 4 * k; i < a4.length; i++) a4[i] = 1;
        for (int i = n * 4; i < b4.length; i++) b4[i] = 1;
        Tensor xt = Tensor.ofFloats(Shape.of(2, 1, k), x);
        Tensor ids = Tensor.ofLongs(DType.I64, Shape.of(2), 1, 0);
        List<Tensor> alone = run(xt, Tensor.ofFloats(Shape.of(1, 2, k), a), Tensor.ofFloats(Shape.of(1, n, 2), b), Tensor.ofFloats(Shape.of(1), 2f), ids);
        List<Tensor> padded = run(xt, Tensor.ofFloats(Shape.of(2, 4, k), a4), Tensor.ofFloats(Shape.of(2, n, 4), b4), Tensor.ofFloats(Shape.of(2), 2f, 3f), ids);
        assertArrayEquals(alone.getFirst().floats(), padded.getFirst().floats());
        for (int j = 0; j < n; j++) assertEquals(0f, padded.getFirst().floats()[n + j]);
    }

    static List<Tensor> run(Tensor x, Tensor a, Tensor b, Tensor s, Tensor ids) {
        Graph g = new Graph("delta");
        Value xv = g.addInput("x", x.type()), iv = g.addInput("ids", ids.type());
        Node d = g.addNode(OpRegistry.global().get(LoraOps.DELTA), "delta", List.of(xv, g.addConstant("a", a), g.addConstant("b", b), g.addConstant("s", s), iv), Attributes.empty(), 1);
        g.setOutputs(List.of(d.output()));
        return new ReferenceInterpreter().run(g, List.of(x, ids));
    }

    @Test void errorsNameTheInputAndShapes() {
        Tensor a = Tensor.zeros(DType.F32, Shape.of(2, 4, 8)), b = Tensor.zeros(DType.F32, Shape.of(2, 6, 4)), s = Tensor.zeros(DType.F32, Shape.of(2));
        Tensor x = Tensor.zeros(DType.F32, Shape.of(3, 1, 8));
        IrException e = assertThrows(IrException.class, () -> run(Tensor.zeros(DType.F32, Shape.of(3, 1, 7)), a, b, s, Tensor.zeros(DType.I64, Shape.of(3))));
        assertTrue(e.getMessage().contains("lora_a f32[2,4,8] must have K=7"), e.getMessage());
        e = assertThrows(IrException.class, () -> run(x, a, Tensor.zeros(DType.F32, Shape.of(2, 6, 3)), s, Tensor.zeros(DType.I64, Shape.of(3))));
        assertTrue(e.getMessage().contains("lora_b must be f32 [adapters, N, rank] = [2, N, 4]"), e.getMessage());
        e = assertThrows(IrException.class, () -> run(x, a, b, s, Tensor.zeros(DType.I64, Shape.of(2))));
        assertTrue(e.getMessage().contains("adapter_ids must be i64 or i32 [batch] = [3]"), e.getMessage());
        RuntimeException bad = assertThrows(RuntimeException.class, () -> run(x, a, b, s, Tensor.ofLongs(DType.I64, Shape.of(3), 0, 3, 1)));
        assertTrue(bad.getMessage().contains("adapter_ids[1] = 3 is outside [0, 2]"), bad.getMessage());
    }

    @Test void slotsMapIdsAndRefuseNegatives() {
        assertArrayEquals(new int[] {-1, 0, 1}, LoraOps.slots(new long[] {0, 1, 2}, 2));
        OpException e = assertThrows(OpException.class, () -> LoraOps.slots(new long[] {-1}, 2));
        assertTrue(e.getMessage().contains("adapter_ids[0] = -1"), e.getMessage());
    }
}

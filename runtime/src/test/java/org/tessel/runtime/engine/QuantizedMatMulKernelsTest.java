package org.tessel.runtime.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.ops.WeightQuantizer;

/** The CPU engine's quantized MatMul kernels equal the ops' reference semantics bit for bit, on one thread and on several. */
class QuantizedMatMulKernelsTest {
    static float[] normal(SplittableRandom r, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * std);
        return v;
    }

    static Graph weightOnly(int[] aShape, int k, int n, WeightQuantizer.Format f, DType scaleType, long seed) {
        var q = WeightQuantizer.quantize(normal(new SplittableRandom(seed), k * n, 0.1), k, n, f, scaleType);
        Graph g = new Graph("wo");
        Value x = g.addInput("a", TensorType.of(DType.F32, Shape.of(aShape)));
        List<Value> ins = new java.util.ArrayList<>(List.of(x, g.addConstant("w", q.codes()), g.addConstant("s", q.scales())));
        if (q.zeroPoints() != null) ins.add(g.addConstant("z", q.zeroPoints()));
        Node node = g.addNode(OpRegistry.global().get(QuantizedMatMulOps.WEIGHT_ONLY), "proj", ins,
                Attributes.builder().put("bits", (long) f.bits()).put("group_size", (long) f.groupSize()).build(), 1);
        g.setOutputs(List.of(node.output()));
        return g;
    }

    static void assertKernelEqualsReference(Graph g, long seed) {
        Engine e = Engine.buildCpu(g);
        assertNotNull(e.cpuProgram().layers().getFirst().kernel(), "the layer runs the registered kernel");
        TensorType t = g.inputs().getFirst().type();
        Tensor a = Tensor.ofFloats(t.dtype(), t.shape(), normal(new SplittableRandom(seed), (int) t.numElements(), 1));
        Tensor want = new ReferenceInterpreter().run(g, List.of(a)).getFirst();
        Tensor got = e.createContext().run(java.util.Map.of("a", a)).values().iterator().next();
        assertArrayEquals(want.floats(), got.floats(), "bit for bit");
    }

    @Property(tries = 40)
    void weightOnlyKernelEqualsReference(@ForAll @IntRange(min = 0, max = 1 << 20) int seed, @ForAll boolean four, @ForAll boolean symmetric) {
        SplittableRandom r = new SplittableRandom(seed);
        int group = 16 << r.nextInt(3), k = group * (1 + r.nextInt(4)), n = 1 + r.nextInt(70), m = 1 + r.nextInt(9);
        var f = new WeightQuantizer.Format(four ? 4 : 8, group, symmetric);
        assertKernelEqualsReference(weightOnly(new int[] {1, m, k}, k, n, f, r.nextBoolean() ? DType.F16 : DType.F32, seed), seed + 1);
    }

    /** Large enough to split the columns over threads (and panels over K and N). */
    @Test void weightOnlyKernelEqualsReferenceWhenThreaded() {
        int k = 640, n = 1100, m = 5;
        assertTrue((long) m * n * k >= QuantizedMatMulKernels.PARALLEL_MACS);
        assertKernelEqualsReference(weightOnly(new int[] {m, k}, k, n, new WeightQuantizer.Format(4, 64, true), DType.F16, 11), 12);
        assertKernelEqualsReference(weightOnly(new int[] {1, k}, k, n, new WeightQuantizer.Format(8, 128, false), DType.F16, 13), 14);
    }

    @Property(tries = 30)
    void w8a8KernelEqualsReference(@ForAll @IntRange(min = 0, max = 1 << 20) int seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int k = 1 + r.nextInt(300), n = 1 + r.nextInt(200), m = 1 + r.nextInt(6);
        var q = WeightQuantizer.quantize(normal(r, k * n, 0.1), k, n, new WeightQuantizer.Format(8, k, true), DType.F32);
        Graph g = new Graph("w8a8");
        Value x = g.addInput("a", TensorType.of(DType.F32, Shape.of(m, k)));
        List<Value> ins = List.of(x, g.addConstant("w", q.codes()), g.addConstant("ws", q.scales().reshape(Shape.of(n))),
                g.addConstant("as", Tensor.ofFloats(Shape.of(), (float) r.nextDouble(0.005, 0.05))));
        Node node = g.addNode(OpRegistry.global().get(QuantizedMatMulOps.W8A8), "fc", ins, Attributes.empty(), 1);
        g.setOutputs(List.of(node.output()));
        assertKernelEqualsReference(g, seed + 7);
    }

    @Test void w8a8SumsAreExactIntegers() {
        // codes 127 x 127 over K = 4096: each sum is an integer f32 cannot hold exactly (> 2^24) but int32 can
        int k = 4096;
        long[] w = new long[k];
        java.util.Arrays.fill(w, 127);
        w[0] = 126;
        Graph g = new Graph("exact");
        Value x = g.addInput("a", TensorType.of(DType.F32, Shape.of(1, k)));
        List<Value> ins = List.of(x, g.addConstant("w", Tensor.ofLongs(DType.I8, Shape.of(1, k), w)), g.addConstant("ws", Tensor.ofFloats(Shape.of(1), 1f)),
                g.addConstant("as", Tensor.ofFloats(Shape.of(), 1f)));
        Node node = g.addNode(OpRegistry.global().get(QuantizedMatMulOps.W8A8), "fc", ins, Attributes.empty(), 1);
        g.setOutputs(List.of(node.output()));
        float[] a = new float[k];
        java.util.Arrays.fill(a, 127f);
        Tensor y = Engine.buildCpu(g).createContext().run(java.util.Map.of("a", Tensor.ofFloats(Shape.of(1, k), a))).values().iterator().next();
        assertEquals((float) (127L * 127 * (k - 1) + 127 * 126), y.floats()[0]);
    }
}

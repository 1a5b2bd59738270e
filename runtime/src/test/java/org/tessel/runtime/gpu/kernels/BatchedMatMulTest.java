package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;

/**
 * tessel.matmul: the launch computed from the operands' shapes (numpy matmul: 1-D promotion, batch broadcasting,
 * refusals naming the mismatch), and the kernel and its layer on the emulated device against the reference
 * interpreter at f32, f16 and bf16 (a CPU test: logic and launch arguments, never speed).
 */
class BatchedMatMulTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    @Test void theLaunchFollowsNumpyMatmul() {
        BatchedMatMul.Spec s = BatchedMatMul.Spec.of(new int[] {3, 4}, new int[] {4, 5});
        assertEquals(List.of(3, 5, 4), List.of(s.m(), s.n(), s.k()));
        assertArrayEquals(new int[] {1, 1, 1, 1}, s.batch());
        // A [2,1,3,4] x B [5,4,6]: batch [2,5], A repeats over the 5, B over the 2
        s = BatchedMatMul.Spec.of(new int[] {2, 1, 3, 4}, new int[] {5, 4, 6});
        assertArrayEquals(new int[] {1, 1, 2, 5}, s.batch());
        assertArrayEquals(new long[] {0, 0, 12, 0}, s.aStrides());
        assertArrayEquals(new long[] {0, 0, 0, 24}, s.bStrides());
        assertEquals(2 * 5 * 3 * 6, s.outputElements());
        // 1-D operands: [4] x [4] is one dot product, [4] x [2,4,3] a [2,3]
        s = BatchedMatMul.Spec.of(new int[] {4}, new int[] {4});
        assertEquals(List.of(1, 1, 4), List.of(s.m(), s.n(), s.k()));
        s = BatchedMatMul.Spec.of(new int[] {4}, new int[] {2, 4, 3});
        assertEquals(List.of(1, 3, 4), List.of(s.m(), s.n(), s.k()));
        assertArrayEquals(new long[] {0, 0, 0, 0}, s.aStrides());
        assertArrayEquals(new long[] {0, 0, 0, 12}, s.bStrides());
    }

    @Test void shapesTheKernelCannotTakeAreRefusedNamingWhy() {
        String k = assertThrows(IllegalArgumentException.class, () -> BatchedMatMul.Spec.of(new int[] {3, 4}, new int[] {5, 6})).getMessage();
        assertTrue(k.contains("A's last dim 4 is not B's second-to-last 5"), k);
        String b = assertThrows(IllegalArgumentException.class, () -> BatchedMatMul.Spec.of(new int[] {2, 3, 4}, new int[] {3, 4, 5})).getMessage();
        assertTrue(b.contains("batch dims 2 and 3 neither match nor broadcast"), b);
        String r = assertThrows(IllegalArgumentException.class, () -> BatchedMatMul.Spec.of(new int[] {1, 1, 1, 1, 1, 3, 4}, new int[] {4, 5})).getMessage();
        assertTrue(r.contains("5 batch dims (the kernel takes up to 4)"), r);
    }

    /** Every MatMul of these shape pairs, as a GPU engine of one MatMul per pair (the rule picks tessel.matmul), at each float precision. */
    @Test void engineOfMatMulsMatchesTheReferenceOnTheEmulatedDevice() {
        int[][][] pairs = {
                {{3, 4}, {4, 5}}, {{17, 33}, {33, 19}}, {{2, 3, 20, 7}, {2, 3, 7, 18}}, {{2, 1, 5, 9}, {3, 9, 4}},
                {{9}, {9}}, {{6}, {2, 6, 5}}, {{2, 4, 6}, {6}}, {{1, 40}, {40, 1}}, {{4, 0}, {0, 3}}};
        NetworkBuilder b = new NetworkBuilder("matmuls");
        Map<String, Tensor> in = new java.util.LinkedHashMap<>();
        SplittableRandom r = new SplittableRandom(9);
        for (int i = 0; i < pairs.length; i++) {
            var x = b.input("a" + i, DType.F32, pairs[i][0]);
            var y = b.input("b" + i, DType.F32, pairs[i][1]);
            in.put("a" + i, GpuTestSupport.random(r, DType.F32, pairs[i][0]));
            in.put("b" + i, GpuTestSupport.random(r, DType.F32, pairs[i][1]));
            b.output(b.name("mm" + i).op("MatMul", Attributes.empty(), x, y));
        }
        Graph g = b.build();
        Map<String, Tensor> want = GpuTestSupport.reference(g, in);
        // |A| x |B|: the scale of each output's rounding error (a dot product's forward error bound)
        Map<String, Tensor> absIn = new java.util.LinkedHashMap<>();
        in.forEach((k, t) -> {
            float[] v = t.floats().clone();
            for (int i = 0; i < v.length; i++) v[i] = Math.abs(v[i]);
            absIn.put(k, Tensor.ofFloats(DType.F32, t.shape(), v));
        });
        Map<String, Tensor> magnitude = GpuTestSupport.reference(g, absIn);
        for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
            try (GpuEngine e = GpuEngine.build(g, p, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                assertTrue(e.layerPlans().stream().allMatch(l -> l.tactic().equals("tessel.matmul")), "every layer is tessel.matmul: " + e.layerPlans());
                Map<String, Tensor> got = c.run(in);
                for (var o : g.outputs()) {
                    Tensor ref = want.get(o.name()), out = got.get(o.name());
                    assertEquals(ref.shape(), out.shape(), "%" + o.name());
                    if (p == GpuEngine.Precision.FP32) {
                        if (ref.size() > 0) GpuTestSupport.assertClose("tessel.matmul FP32 %" + o.name() + " (emulated)", out, ref, 1e-5);
                        continue;
                    }
                    // A and B rounded to the storage type, f32 sums, the result rounded again: |error| <= 3u (|A| x |B|)
                    double u = p == GpuEngine.Precision.FP16 ? 0x1p-11 : 0x1p-8;
                    for (int i = 0; i < ref.size(); i++) {
                        double err = Math.abs(out.getFloat(i) - ref.getFloat(i)), bound = 3 * u * magnitude.get(o.name()).getFloat(i) + 1e-6;
                        assertTrue(err <= bound, "tessel.matmul " + p + " %" + o.name() + "[" + i + "]: " + out.getFloat(i) + " vs " + ref.getFloat(i) + " (bound " + bound + ")");
                    }
                }
            }
        }
    }
}

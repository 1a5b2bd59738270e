package org.tessel.cost;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

class WorkTest {
    @Test void convCountsMacsBytesAndImplicitGemmDims() {
        NetworkBuilder b = new NetworkBuilder("w");
        Value x = b.input("x", DType.F32, 2, 64, 56, 56);
        Value w = b.randomWeights("w", 128, 64, 3, 3);
        Node conv = b.node("Conv", "conv", Attributes.builder().put("pads", 1, 1, 1, 1).put("strides", 2, 2).build(), 1, x, w);
        Work work = Work.of(conv, Precision.FP16);
        long out = 2L * 128 * 28 * 28;
        assertEquals(2.0 * out * 64 * 9, work.flops());
        assertEquals(2.0 * (2 * 64 * 56 * 56 + 128 * 64 * 9), work.bytesRead(), "input and weights at 2 bytes");
        assertEquals(2.0 * out, work.bytesWritten());
        assertArrayEquals(new long[] {2 * 28 * 28, 128, 64 * 9}, new long[] {work.gemmM(), work.gemmN(), work.gemmK()});
        assertEquals(4.0 * out, Work.of(conv, Precision.FP32).bytesWritten());
        assertEquals(1.0 * out, Work.of(conv, Precision.INT8).bytesWritten());
    }

    @Test void groupedAndDepthwiseConvFoldGroupsIntoM() {
        NetworkBuilder b = new NetworkBuilder("w");
        Value x = b.input("x", DType.F32, 1, 32, 14, 14);
        Node dw = b.node("Conv", "dw", Attributes.builder().put("group", 32L).put("pads", 1, 1, 1, 1).build(), 1, x, b.randomWeights("w", 32, 1, 3, 3));
        Work w = Work.of(dw, Precision.FP16);
        assertArrayEquals(new long[] {32 * 14 * 14, 1, 9}, new long[] {w.gemmM(), w.gemmN(), w.gemmK()});
        assertEquals(2.0 * 32 * 14 * 14 * 9, w.flops());
    }

    @Test void gemmAndMatMulDims() {
        NetworkBuilder b = new NetworkBuilder("w");
        Value a = b.input("a", DType.F32, 8, 256);
        Node g = b.node("Gemm", "fc", Attributes.builder().put("transB", 1L).build(), 1, a, b.randomWeights("w", 1000, 256), b.randomWeights("c", 1000));
        Work w = Work.of(g, Precision.FP16);
        assertArrayEquals(new long[] {8, 1000, 256}, new long[] {w.gemmM(), w.gemmN(), w.gemmK()});
        assertEquals(2.0 * 8 * 1000 * 256, w.flops());
        Value q = b.input("q", DType.F32, 2, 12, 128, 64), kt = b.input("kt", DType.F32, 2, 12, 64, 128);
        Node mm = b.node("MatMul", "scores", Attributes.empty(), 1, q, kt);
        Work s = Work.of(mm, Precision.FP16);
        assertArrayEquals(new long[] {2 * 12 * 128, 128, 64}, new long[] {s.gemmM(), s.gemmN(), s.gemmK()}, "batches fold into M");
        assertTrue(s.isGemm());
        assertFalse(Work.of(b.node("Relu", "r", Attributes.empty(), 1, q), Precision.FP16).isGemm());
    }

    @Test void perElementEstimatesForOpsWithoutMacs() {
        NetworkBuilder b = new NetworkBuilder("w");
        Value x = b.input("x", DType.F32, 4, 1000);
        assertEquals(4000, Work.flops(b.node("Relu", "r", Attributes.empty(), 1, x)));
        assertEquals(5 * 4000, Work.flops(b.node("Softmax", "s", Attributes.empty(), 1, x)));
        assertEquals(4000, Work.flops(b.node("ReduceSum", "rs", Attributes.empty(), 1, x)));
        assertEquals(0, Work.flops(b.node("Reshape", "v", Attributes.empty(), 1, x, b.longs("shape", 4000))));
        Value img = b.input("img", DType.F32, 1, 8, 8, 8);
        Node pool = b.node("MaxPool", "p", Attributes.builder().put("kernel_shape", 2, 2).put("strides", 2, 2).build(), 1, img);
        assertEquals(8 * 4 * 4 * 4, Work.flops(pool), "4 window elements per output");
        // integer tensors keep their own size whatever the precision
        Value ids = b.input("ids", DType.I64, 4, 16);
        Node shape = b.node("Shape", "sh", Attributes.empty(), 1, ids);
        assertEquals(4 * 16 * 8, Work.of(shape, Precision.FP16).bytesRead());
    }

    @Test void groupWorkCountsBodyFlopsButOnlyBoundaryBytes() {
        NetworkBuilder b = new NetworkBuilder("w");
        Value x = b.input("x", DType.F32, 1, 64, 56, 56);
        Node r = b.node("Relu", "relu", Attributes.empty(), 1, x);
        Node s = b.node("Sigmoid", "sig", Attributes.empty(), 1, r.output());
        Node t = b.node("Tanh", "tanh", Attributes.empty(), 1, s.output());
        double e = 64 * 56 * 56;
        double unfused = 0;
        for (Node n : List.of(r, s, t)) unfused += Work.of(n, Precision.FP16).bytes();
        assertEquals(6 * 2 * e, unfused);
        Set<Value> escaping = Collections.newSetFromMap(new IdentityHashMap<>());
        escaping.add(t.output());
        Work fused = Work.ofGroup(List.of(r, s, t), escaping, Precision.FP16);
        assertEquals(3 * e, fused.flops());
        assertEquals(2 * e, fused.bytesRead());
        assertEquals(2 * e, fused.bytesWritten());
        // a member whose result is also used outside is written too
        escaping.add(r.output());
        assertEquals(4 * e, Work.ofGroup(List.of(r, s, t), escaping, Precision.FP16).bytesWritten());
    }
}

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

    /** A decode step over a paged cache: the pools are read through the block tables and written at the new tokens only. */
    @Test void pagedAttentionCountsTheCacheItReadsAndTheTokensItWrites() {
        int b = 8, h = 8, kvh = 2, d = 64, blocks = 1024, bs = 16, mb = 4;
        Work f16 = Work.of(pagedStep(DType.F16, b, h, kvh, d, blocks, bs, mb), Precision.FP16);
        Work f8 = Work.of(pagedStep(DType.F8E4M3, b, h, kvh, d, blocks, bs, mb), Precision.FP16);
        double io = 2.0 * (b * h * d + 2 * b * kvh * d);                  // q, k_new, v_new at FP16
        double ints = 4.0 * (b * mb + b + b);                             // tables, slots, lengths (i32)
        double cache = 2.0 * b * mb * bs * kvh * d;                       // K and V elements read
        assertEquals(io + ints + 2 * cache, f16.bytesRead(), "FP16 pools: 2 bytes per cached element, the tables' blocks only");
        assertEquals(io + ints + cache, f8.bytesRead(), "FP8 pools: 1 byte per cached element");
        double newKv = 2.0 * b * kvh * d;
        assertEquals(2.0 * b * h * d + 2 * newKv, f16.bytesWritten(), "the output, and the new token's K and V");
        assertEquals(2.0 * b * h * d + newKv, f8.bytesWritten());
        assertTrue(f16.bytesRead() < 2.0 * blocks * bs * kvh * d, "not the whole pool");
    }

    /** An embedding lookup reads the rows it picks, not the table (llama-1b's 32000 x 2048 table, one token). */
    @Test void aGatherReadsTheRowsItPicks() {
        NetworkBuilder b = new NetworkBuilder("embed");
        Value table = b.randomWeights("table", 32000, 2048);
        Value ids = b.input("ids", DType.I64, 4, 1);
        Node gather = b.node("Gather", "embed", Attributes.empty(), 1, table, ids);
        Work w = Work.of(gather, Precision.FP16);
        assertEquals(2.0 * 4 * 2048 + 8.0 * 4, w.bytesRead(), "4 rows at FP16 and the i64 ids");
        assertEquals(2.0 * 4 * 2048, w.bytesWritten());
    }

    private static Node pagedStep(DType pool, int b, int h, int kvh, int d, int blocks, int bs, int mb) {
        NetworkBuilder g = new NetworkBuilder("paged");
        Value q = g.input("q", DType.F16, b, 1, h, d), k = g.input("k", DType.F16, b, 1, kvh, d), v = g.input("v", DType.F16, b, 1, kvh, d);
        Value kp = g.input("kp", pool, blocks, kvh, bs, d), vp = g.input("vp", pool, blocks, kvh, bs, d);
        Value t = g.input("t", DType.I32, b, mb), s = g.input("s", DType.I32, b, 1), n = g.input("n", DType.I32, b);
        Attributes a = pool == DType.F8E4M3 ? Attributes.builder().put("k_scale", 0.5f).put("v_scale", 0.25f).build() : Attributes.empty();
        return g.node("tessel.PagedAttention", "pa", a, 3, q, k, v, kp, vp, t, s, n);
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

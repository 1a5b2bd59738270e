package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.search.Searcher;

/**
 * ONNX RotaryEmbedding in GPU engines on the emulated device (kernel logic and launch arguments, never speed): the
 * search's preparation decomposes it (position ids through tessel.gather, the halves form on tessel.rope, the
 * interleaved one and partial rotary dims in slices, elementwise ops and concats), the rule plans the pieces, and the
 * engine's output matches the CPU engine running the op. Shapes of ONNX's rotary node cases: X [2, 4, 3, 8] or
 * [2, 3, 32] with 4 heads, caches [50, rot/2] indexed by position ids [2, 3], or [2, 3, rot/2] without.
 */
class RotaryEmbeddingOpEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    static Tensor positions(SplittableRandom r, int b, int s, int positions) {
        Tensor p = Tensor.zeros(DType.I64, Shape.of(b, s));
        for (int i = 0; i < p.size(); i++) p.setDouble(i, r.nextInt(positions));
        return p;
    }

    static Attributes attrs(long interleaved, long numHeads, long rot) {
        return Attributes.builder().put("interleaved", interleaved).put("num_heads", numHeads).put("rotary_embedding_dim", rot).build();
    }

    /**
     * One RotaryEmbedding of X over caches (position ids when pos is given) run on ctx against the CPU engine (cuBLASLt
     * moved to tessel.matmul when {@code noCublas}); the preparation must remove the op. Returns the layers' tactics.
     */
    static List<String> check(CudaContext ctx, boolean noCublas, Attributes a, Tensor x, Tensor cos, Tensor sin, Tensor pos) {
        Graph g = pos == null ? AttentionOpEmulatedTest.oneNode("RotaryEmbedding", a, 1, x, cos, sin)
                : AttentionOpEmulatedTest.oneNode("RotaryEmbedding", a, 1, x, cos, sin, pos);
        assertFalse(Searcher.prepare(g).nodes().stream().anyMatch(n -> n.opName().equals("RotaryEmbedding")), g.name() + " keeps RotaryEmbedding");
        return pos == null ? AttentionOpEmulatedTest.check(ctx, noCublas, g, x, cos, sin) : AttentionOpEmulatedTest.check(ctx, noCublas, g, x, cos, sin, pos);
    }

    @Test void theHalvesFormRunsOnTheRopeKernel() {
        SplittableRandom r = new SplittableRandom(11);
        // 4-D with position ids; 3-D [B, S, H*D] with position ids; 4-D without, rotating 4 of 8 elements a head
        Tensor x4 = AttentionOpEmulatedTest.random(r, 2, 4, 3, 8), x3 = AttentionOpEmulatedTest.random(r, 2, 3, 32);
        Tensor cos = AttentionOpEmulatedTest.random(r, 50, 4), sin = AttentionOpEmulatedTest.random(r, 50, 4), pos = positions(r, 2, 3, 50);
        List<String> t = check(ctx, true, attrs(0, 0, 0), x4, cos, sin, pos);
        assertTrue(t.contains(GpuTactics.ROPE) && t.contains(GpuTactics.GATHER), t.toString());
        t = check(ctx, true, attrs(0, 4, 0), x3, cos, sin, pos);
        assertTrue(t.contains(GpuTactics.ROPE) && t.contains(GpuTactics.GATHER), t.toString());
        Tensor c2 = AttentionOpEmulatedTest.random(r, 2, 3, 2), s2 = AttentionOpEmulatedTest.random(r, 2, 3, 2);
        t = check(ctx, true, attrs(0, 0, 4), x4, c2, s2, null);
        assertTrue(t.contains(GpuTactics.ROPE) && !t.contains(GpuTactics.GATHER), t.toString());
    }

    @Test void theInterleavedFormRunsAsItsPieces() {
        SplittableRandom r = new SplittableRandom(12);
        // 4-D with position ids rotating 4 of 8 elements a head; 3-D without position ids, whole heads
        Tensor x4 = AttentionOpEmulatedTest.random(r, 2, 4, 3, 8), x3 = AttentionOpEmulatedTest.random(r, 2, 3, 32);
        Tensor cos = AttentionOpEmulatedTest.random(r, 50, 2), sin = AttentionOpEmulatedTest.random(r, 50, 2), pos = positions(r, 2, 3, 50);
        List<String> t = check(ctx, true, attrs(1, 0, 4), x4, cos, sin, pos);
        assertTrue(!t.contains(GpuTactics.ROPE) && t.contains(GpuTactics.GATHER), t.toString());
        Tensor c3 = AttentionOpEmulatedTest.random(r, 2, 3, 4), s3 = AttentionOpEmulatedTest.random(r, 2, 3, 4);
        t = check(ctx, true, attrs(1, 4, 0), x3, c3, s3, null);
        assertTrue(!t.contains(GpuTactics.ROPE), t.toString());
    }
}

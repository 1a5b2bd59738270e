package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * ONNX RotaryEmbedding decomposed and run by GPU engines on a GPU against the CPU engine (RotaryEmbeddingOpEmulatedTest's
 * forms and bounds, at a decoder's sizes: 32 heads of 64 over 128 tokens, a 4096-position cache).
 */
@Tag("gpu")
class RotaryEmbeddingOpGpuTest {
    @Test void rotaryEmbeddingMatchesTheCpuEngineOnTheGpu() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        SplittableRandom r = new SplittableRandom(13);
        Tensor x3 = AttentionOpEmulatedTest.random(r, 2, 128, 32 * 64), x4 = AttentionOpEmulatedTest.random(r, 2, 32, 128, 64);
        Tensor cos = AttentionOpEmulatedTest.random(r, 4096, 32), sin = AttentionOpEmulatedTest.random(r, 4096, 32);
        Tensor pos = RotaryEmbeddingOpEmulatedTest.positions(r, 2, 128, 4096);
        List<String> t = RotaryEmbeddingOpEmulatedTest.check(ctx, false, RotaryEmbeddingOpEmulatedTest.attrs(0, 32, 0), x3, cos, sin, pos);
        assertTrue(t.contains(GpuTactics.ROPE), t.toString());
        System.out.printf("RESULT|RotaryEmbedding 3-D halves, position ids|%s%n", t);
        t = RotaryEmbeddingOpEmulatedTest.check(ctx, false, RotaryEmbeddingOpEmulatedTest.attrs(1, 0, 32), x4, cos, sin, pos);
        System.out.printf("RESULT|RotaryEmbedding 4-D interleaved, rotary dim 32 of 64, position ids|%s%n", t);
        Tensor c = AttentionOpEmulatedTest.random(r, 2, 128, 32), s = AttentionOpEmulatedTest.random(r, 2, 128, 32);
        t = RotaryEmbeddingOpEmulatedTest.check(ctx, false, RotaryEmbeddingOpEmulatedTest.attrs(0, 0, 0), x4, c, s, null);
        assertTrue(t.contains(GpuTactics.ROPE), t.toString());
        System.out.printf("RESULT|RotaryEmbedding 4-D halves, per-token caches|%s%n", t);
    }
}

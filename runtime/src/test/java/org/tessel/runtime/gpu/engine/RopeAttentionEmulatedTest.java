package org.tessel.runtime.gpu.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.runtime.cuda.CudaContext;

/**
 * A decode step's paged attention with its ropes fused in ({@link RopeAttentionCheck}) on the emulated device (kernel
 * logic and launch arguments, not speed), against the CPU engine: FP16 and BF16 with f16/bf16 pools and FP16 with FP8
 * pools; GQA (8 query heads over 2 KV heads, and 4 over 4); batch 1 (a context split over partitions: 100 tokens) and 3
 * (5, 17 and 64 tokens); both ropes, q's alone, k's alone; cos and sin per sequence and one row for the batch.
 * (tessel.RotaryEmbedding always rotates the whole head in halves, so there is no rotary dim below the head size or
 * interleaved form to check.)
 */
class RopeAttentionEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    @Test void bothRopesAtFp16AndBf16OverBatchOneAndThree() {
        long seed = 0;
        for (GpuEngine.Precision p : new GpuEngine.Precision[] {GpuEngine.Precision.FP16, GpuEngine.Precision.BF16})
            for (int[] lens : new int[][] {{100}, {5, 17, 64}})
                System.out.println(RopeAttentionCheck.check(ctx, new RopeAttentionCheck.Case(lens, 8, 2, 64, 16, true, true, true, false), p, seed++));
    }

    @Test void fp8PoolsStoreTheRotatedKeyQuantized() {
        System.out.println(RopeAttentionCheck.check(ctx, new RopeAttentionCheck.Case(new int[] {5, 17, 64}, 8, 2, 64, 16, true, true, true, true), GpuEngine.Precision.FP16, 7));
        System.out.println(RopeAttentionCheck.check(ctx, new RopeAttentionCheck.Case(new int[] {100}, 4, 4, 16, 8, true, true, false, true), GpuEngine.Precision.BF16, 8));
    }

    @Test void eitherRopeAloneAndABatchWideCos() {
        System.out.println(RopeAttentionCheck.check(ctx, new RopeAttentionCheck.Case(new int[] {3, 30, 9}, 8, 2, 32, 16, true, false, false, false), GpuEngine.Precision.FP16, 11));
        System.out.println(RopeAttentionCheck.check(ctx, new RopeAttentionCheck.Case(new int[] {3, 30, 9}, 4, 4, 16, 4, false, true, true, false), GpuEngine.Precision.FP16, 12));
    }
}

package org.tessel.runtime.gpu.engine;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * A decode step's paged attention with its ropes fused in ({@link RopeAttentionCheck}) on a GPU with the emulated test's
 * bounds: llama-1b's heads (32 over 4 KV heads, head size 64) at batch 1 (a 300-token context, split) and 8, llama-tiny's
 * (4 over 2, head size 16), FP16 and BF16 over f16/bf16 pools and FP8 pools, each rope alone too.
 */
@Tag("gpu")
class RopeAttentionGpuTest {
    @Test void theFusedRopesMatchTheCpuEngineOnTheGpu() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        long seed = 0;
        int[][] lens = {{300}, {1, 17, 64, 65, 150, 33, 2, 500}};
        for (GpuEngine.Precision p : new GpuEngine.Precision[] {GpuEngine.Precision.FP16, GpuEngine.Precision.BF16})
            for (boolean fp8 : new boolean[] {false, true})
                for (int[] l : lens) {
                    System.out.println("RESULT|" + RopeAttentionCheck.check(ctx, new RopeAttentionCheck.Case(l, 32, 4, 64, 16, true, true, true, fp8), p, seed++) + "|ok");
                    System.out.println("RESULT|" + RopeAttentionCheck.check(ctx, new RopeAttentionCheck.Case(l, 4, 2, 16, 16, true, true, false, fp8), p, seed++) + "|ok");
                }
        System.out.println("RESULT|" + RopeAttentionCheck.check(ctx, new RopeAttentionCheck.Case(lens[1], 32, 4, 64, 16, true, false, true, false), GpuEngine.Precision.FP16, seed++) + "|ok");
        System.out.println("RESULT|" + RopeAttentionCheck.check(ctx, new RopeAttentionCheck.Case(lens[1], 32, 4, 64, 16, false, true, true, false), GpuEngine.Precision.FP16, seed) + "|ok");
    }
}

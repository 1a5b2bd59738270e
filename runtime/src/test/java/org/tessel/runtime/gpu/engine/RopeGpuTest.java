package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * {@code tessel.rope} inside GPU engines on a GPU with RopeEmulatedTest's bounds: llama-tiny's step shapes and
 * llama-1b's (head size 64, 32 query and 4 KV heads; a decode step of 8 sequences and a 128-token prefill chunk), at
 * FP32, FP16 and BF16.
 */
@Tag("gpu")
class RopeGpuTest {
    @Test void theRopeKernelMatchesTheCpuEngineOnTheGpu() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        int[][][] llama1b = {{{8, 1, 32, 64}, {8, 1, 1, 64}}, {{8, 1, 4, 64}, {8, 1, 1, 64}}, {{1, 128, 32, 64}, {1, 128, 1, 64}}, {{1, 32, 128, 64}, {1, 1, 128, 64}}};
        long seed = 0;
        for (int[][][] set : List.of(RopeEmulatedTest.LLAMA_TINY, llama1b))
            for (int[][] s : set)
                for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
                    RopeEmulatedTest.check(ctx, s[0], s[1], p, seed++);
                    System.out.printf("RESULT|tessel.rope x=%s cos=%s %s|ok%n", java.util.Arrays.toString(s[0]), java.util.Arrays.toString(s[1]), p);
                }
    }
}

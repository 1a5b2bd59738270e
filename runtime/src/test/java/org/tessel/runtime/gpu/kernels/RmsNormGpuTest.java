package org.tessel.runtime.gpu.kernels;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.engine.GpuEngine;

/**
 * {@code tessel.rmsnorm} inside GPU engines on a GPU with RmsNormEmulatedTest's bounds: a decode step's one row and
 * prefill's many at Llama-1B's width 2048 (the warp-per-row kernel), 1001 and 4096 / 5632 (the CTA kernel), FP32, FP16
 * and BF16.
 */
@Tag("gpu")
class RmsNormGpuTest {
    @Test void theRmsNormMatchesTheCpuEngineOnTheGpu() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        for (int[] shape : new int[][] {{1, 1, 2048}, {64, 2048}, {3, 1001}, {2, 4096}, {5, 5632}})
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
                int len = shape[shape.length - 1];
                RmsNormEmulatedTest.check(ctx, RmsNormEmulatedTest.rmsNorm(shape, p.storage(), len + p.ordinal()), p,
                        RmsNormEmulatedTest.input(shape, p.storage(), len * 3L + shape[0]));
                System.out.printf("RESULT|tessel.rmsnorm %s %s (%s)|ok%n", java.util.Arrays.toString(shape), p,
                        LayerNorm.warpPerRow(p.storage(), len, LayerNorm.RMS_WARP_ROW_MAX) ? "warp per row" : "CTA per row");
            }
    }
}

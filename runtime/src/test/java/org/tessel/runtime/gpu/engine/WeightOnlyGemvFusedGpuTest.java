package org.tessel.runtime.gpu.engine;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.ir.Graph;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * {@link WeightOnlyGemvFusedEmulatedTest}'s fused weight-only GEMVs on a GPU at llama-1b's widths (not run yet: written
 * without one), against the CPU engine of the same plan: SiLU(gate) * up in down_proj's loader (K 8192 -> 2048), the
 * norm in a projection with the residual (K 2048), the norm before merged Q/K/V (2048 -> 2048 + 512 + 512), INT8 and
 * INT4 in groups of 128, M = 1, 3 and 4 (one read of the weights for all rows), FP16.
 */
@Tag("gpu")
class WeightOnlyGemvFusedGpuTest {
    static final int[][] FORMATS = {{8, 128}, {4, 128}};

    @Test void theFusedWeightOnlyGemvsMatchTheCpuEngineOnTheGpu() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        GpuEngine.Precision p = GpuEngine.Precision.FP16;
        for (int[] f : FORMATS) {
            for (int rows : new int[] {1, 3, 4}) {
                Graph down = WeightOnlyGemvFusedEmulatedTest.quantized(GemvEmulatedTest.siluDown(rows, 8192, 2048, p.storage(), rows * 3L + f[0]), f[0], f[1]);
                GemvEmulatedTest.checkFused(ctx, down, p, GemvEmulatedTest.siluDownInputs(rows, 8192, 2048, p.storage(), rows + 17L), "eltwise_gemm", List.of(GpuTactics.GEMV_WEIGHT_ONLY));
                System.out.printf("RESULT|tessel.gemv.weight_only w%d g%d eltwise_gemm SiLU*up K=8192 rows=%d|ok%n", f[0], f[1], rows);
                Graph norm = WeightOnlyGemvFusedEmulatedTest.quantized(GemvEmulatedTest.normProj(rows, 2048, new int[] {2048}, p.storage(), rows * 5L + f[0], true), f[0], f[1]);
                GemvEmulatedTest.checkFused(ctx, norm, p, GemvEmulatedTest.normProjInputs(rows, 2048, 2048, p.storage(), rows + 9L), "rmsnorm_gemm", List.of(GpuTactics.GEMV_WEIGHT_ONLY));
                System.out.printf("RESULT|tessel.gemv.weight_only w%d g%d rmsnorm_gemm K=2048 rows=%d|ok%n", f[0], f[1], rows);
            }
            Graph qkv = WeightOnlyGemvFusedEmulatedTest.quantized(GemvEmulatedTest.normProj(1, 2048, new int[] {2048, 512, 512}, p.storage(), 31 + f[0], false), f[0], f[1]);
            GemvEmulatedTest.checkFused(ctx, qkv, p, Map.of("x", GemvEmulatedTest.normProjInputs(1, 2048, 8, p.storage(), 4).get("x")), "rmsnorm_gemm",
                    List.of(GpuTactics.GEMV_WEIGHT_ONLY, GpuTactics.SPLIT_VIEW));
            System.out.printf("RESULT|tessel.gemv.weight_only w%d g%d rmsnorm_gemm merged Q/K/V K=2048 N=3072|ok%n", f[0], f[1]);
        }
    }
}

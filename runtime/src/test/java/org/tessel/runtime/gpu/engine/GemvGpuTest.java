package org.tessel.runtime.gpu.engine;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * {@code tessel.gemv} inside GPU engines on a GPU with GemvEmulatedTest's bounds, at llama-1b's widths: K 2048 and 5632
 * (down_proj), N 264 (not a multiple of the block's 8 columns), 1, 4 and 8 activation rows, FP32, FP16 and BF16; and the
 * fused bias + residual epilogue; and the eltwise_gemm prologue (SiLU(gate) * up into down_proj + residual) at llama-1b's
 * down_proj (K 5632, N 2048), 1 and 3 rows, with GemvEmulatedTest's prologue tolerances; and the rmsnorm_gemm (an
 * RMSNormalization computed in the GEMV's pass over x) at K 2048: a norm + projection + residual at 1 and 3 rows, and the
 * norm before llama-1b's merged Q/K/V (N 2048 + 256 + 256, one row, the Split as views); and llama-1b's FP16 decode
 * projections at K 2048 whose widths select each K split on 132 SMs (o_proj 2048: 4 warps a row group, an unmerged
 * gate_proj 5632: 2, merged gate/up 11264: 1), 1 and 4 rows.
 */
@Tag("gpu")
class GemvGpuTest {
    @Test void theGemvMatchesTheCpuEngineOnTheGpu() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        for (int k : new int[] {2048, 5632})
            for (int rows : new int[] {1, 4, 8})
                for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
                    boolean fused = rows == 4;
                    int[] aShape = {rows, 1, k};
                    Graph g = GemvEmulatedTest.matmul(aShape, k, 264, p.storage(), k + rows, fused, fused);
                    SplittableRandom r = new SplittableRandom(k * 7L + rows);
                    float[] v = new float[rows * k], res = new float[rows * 264];
                    for (int i = 0; i < v.length; i++) v[i] = Tensor.round(p.storage(), (float) r.nextDouble(-1, 1));
                    for (int i = 0; i < res.length; i++) res[i] = Tensor.round(p.storage(), (float) r.nextDouble(-1, 1));
                    Map<String, Tensor> in = fused ? Map.of("a", Tensor.ofFloats(DType.F32, Shape.of(aShape), v), "r", Tensor.ofFloats(DType.F32, Shape.of(rows, 1, 264), res))
                            : Map.of("a", Tensor.ofFloats(DType.F32, Shape.of(aShape), v));
                    GemvEmulatedTest.check(ctx, g, p, in);
                    System.out.printf("RESULT|tessel.gemv K=%d rows=%d %s%s|ok%n", k, rows, p, fused ? " bias+residual" : "");
                }
    }

    /** ResNet-50's head at batch 1 (a Gemm of 2048 by 1000 with transB and a bias) and GoogLeNet's (1024 by 1000) on the GEMV. */
    @Test void aClassifiersHeadRunsAsTheGemvOnTheGpu() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP16, GpuEngine.Precision.FP32)) {
            GemvEmulatedTest.checkGemm(ctx, 1, 2048, 1000, true, true, p);
            GemvEmulatedTest.checkGemm(ctx, 1, 1024, 1000, true, true, p);
        }
    }

    @Test void everyKSplitAtLlama1bWidthsMatchesTheCpuEngineOnTheGpu() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        int k = 2048, sms = ctx.device().smCount();
        java.util.Set<Integer> splits = new java.util.TreeSet<>();
        for (int n : new int[] {2048, 5632, 11264})
            for (int rows : new int[] {1, 4}) {
                GpuEngine.Precision p = GpuEngine.Precision.FP16;
                int split = org.tessel.runtime.gpu.kernels.Gemv.kSplit(n, k, p.storage(), sms);
                splits.add(split);
                Graph g = GemvEmulatedTest.matmul(new int[] {rows, 1, k}, k, n, p.storage(), n + rows);
                SplittableRandom r = new SplittableRandom(n * 7L + rows);
                float[] v = new float[rows * k];
                for (int i = 0; i < v.length; i++) v[i] = Tensor.round(p.storage(), (float) r.nextDouble(-1, 1));
                GemvEmulatedTest.check(ctx, g, p, Map.of("a", Tensor.ofFloats(DType.F32, Shape.of(rows, 1, k), v)));
                System.out.printf("RESULT|tessel.gemv K=%d N=%d rows=%d FP16 K split %d on %d SMs|ok%n", k, n, rows, split, sms);
            }
        if (sms == 132) org.junit.jupiter.api.Assertions.assertEquals(java.util.Set.of(1, 2, 4), splits);
    }

    @Test void theSiluMulPrologueMatchesTheCpuEngineOnTheGpu() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        for (int rows : new int[] {1, 3})
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
                Graph g = GemvEmulatedTest.siluDown(rows, 5632, 2048, p.storage(), rows * 3L + p.ordinal());
                GemvEmulatedTest.checkPrologue(ctx, g, p, GemvEmulatedTest.siluDownInputs(rows, 5632, 2048, p.storage(), rows + 17L));
                System.out.printf("RESULT|tessel.gemv eltwise_gemm SiLU*up K=5632 rows=%d %s|ok%n", rows, p);
            }
    }

    @Test void theRmsNormPrologueMatchesTheCpuEngineOnTheGpu() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
            for (int rows : new int[] {1, 3}) {
                Graph g = GemvEmulatedTest.normProj(rows, 2048, new int[] {2048}, p.storage(), rows * 5L + p.ordinal(), true);
                GemvEmulatedTest.checkFused(ctx, g, p, GemvEmulatedTest.normProjInputs(rows, 2048, 2048, p.storage(), rows + 9L), "rmsnorm_gemm", List.of(GpuTactics.GEMV));
                System.out.printf("RESULT|tessel.gemv rmsnorm_gemm K=2048 N=2048 rows=%d %s|ok%n", rows, p);
            }
            Graph qkv = GemvEmulatedTest.normProj(1, 2048, new int[] {2048, 256, 256}, p.storage(), 31 + p.ordinal(), false);
            GemvEmulatedTest.checkFused(ctx, qkv, p, Map.of("x", GemvEmulatedTest.normProjInputs(1, 2048, 8, p.storage(), 4).get("x")), "rmsnorm_gemm",
                    List.of(GpuTactics.GEMV, GpuTactics.SPLIT_VIEW));
            System.out.printf("RESULT|tessel.gemv rmsnorm_gemm merged Q/K/V K=2048 N=2560 %s|ok%n", p);
        }
    }
}

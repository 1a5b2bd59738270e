package org.tessel.runtime.gpu.engine;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * The quantized MatMul tactics inside GPU engines on a GPU, planned one tactic at a time, against the CPU kernels with
 * QuantizedMatMulEmulatedTest's bounds: tessel.gemv.weight_only and tessel.gemm.weight_only at llama-1b's projection
 * width (K 2048; INT8 and INT4, group 128 and 32, zero points or not; 1, 3, 17 and 64 rows; the GEMM tiled, dequantized
 * into the workspace for cuBLASLt (tessel.gemm.weight_only/dequant) and, at FP16, on tensor cores (/mma)), tessel.gemm.w8a8 at K 2048
 * and an odd K, FP32 and FP16 engines.
 */
@Tag("gpu")
class QuantizedMatMulGpuTest {
    @Test void tacticsInsideGpuEnginesMatchTheCpuKernels() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        int k = 2048, n = 264;
        for (int bits : new int[] {8, 4})
            for (int group : new int[] {128, 32})
                for (boolean zeros : new boolean[] {false, true})
                    for (int m : new int[] {1, 3, 17, 64}) {
                        Graph g = QuantizedMatMulEmulatedTest.weightOnly(m, k, n, bits, group, zeros, DType.F16, bits * 100L + group + m);
                        SplittableRandom r = new SplittableRandom(m + group);
                        for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16)) {
                            Map<String, Tensor> in = QuantizedMatMulEmulatedTest.input(r, m, k, p.storage());
                            List<String> tactics = new java.util.ArrayList<>(m <= 16 ? List.of(GpuTactics.GEMV_WEIGHT_ONLY, GpuTactics.GEMM_WEIGHT_ONLY) : List.of(GpuTactics.GEMM_WEIGHT_ONLY));
                            if (p == GpuEngine.Precision.FP16) tactics.add(GpuTactics.variant(GpuTactics.GEMM_WEIGHT_ONLY, "mma")); // the GEMM on tensor cores
                            tactics.add(GpuTactics.variant(GpuTactics.GEMM_WEIGHT_ONLY, "dequant")); // dequantized into the workspace, then cuBLASLt
                            for (String tactic : tactics) QuantizedMatMulEmulatedTest.check(ctx, tactic + " " + g.name() + " (GPU)", g, p, tactic, in);
                        }
                    }
        for (int kk : new int[] {2048, 70})
            for (int m : new int[] {1, 17, 64}) {
                Graph g = QuantizedMatMulEmulatedTest.w8a8(m, kk, 300, kk + m);
                SplittableRandom r = new SplittableRandom(kk * 3L + m);
                for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16))
                    QuantizedMatMulEmulatedTest.check(ctx, GpuTactics.GEMM_W8A8 + " " + g.name() + " (GPU)", g, p, GpuTactics.GEMM_W8A8, QuantizedMatMulEmulatedTest.input(r, m, kk, p.storage()));
            }
    }
}

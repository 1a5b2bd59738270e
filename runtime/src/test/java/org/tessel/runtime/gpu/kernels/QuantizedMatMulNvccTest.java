package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;

/**
 * The quantized MatMul kernels without a GPU: nvcc compiles every specialization to PTX for sm_90 (the GEMV with
 * 16-byte loads, the W8A8 GEMM with dp4a), and the GEMV's launcher refuses shapes its loads do not fit. Their values
 * are checked inside GPU engines on the emulated device (QuantizedMatMulEmulatedTest) and on a GPU (WeightOnlyGemvGpuTest).
 */
class QuantizedMatMulNvccTest {
    @Test void everySpecializationCompilesWithNvcc(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.nvccAvailable(), "nvcc is not on the PATH");
        Map<String, String> loads = new LinkedHashMap<>(), gemms = new LinkedHashMap<>(), dp4a = new LinkedHashMap<>();
        for (DType t : List.of(DType.F32, DType.F16, DType.BF16)) {
            for (int bits : new int[] {4, 8}) {
                loads.put("gemv_w" + bits + "_" + t.text(), WeightOnlyGemv.source(t, DType.F16, bits));
                gemms.put("gemm_wo_w" + bits + "_" + t.text(), WeightOnlyGemm.source(t, DType.F16, bits));
            }
            dp4a.put("gemm_w8a8_" + t.text(), W8A8Gemm.source(t));
        }
        loads.put("gemv_w4_f16_f32_scales", WeightOnlyGemv.source(DType.F16, DType.F32, 4));
        // the fused modes: an eltwise_gemm's SiLU(gate) * up in the x loader, an rmsnorm_gemm's norm (gamma multiplied into x)
        for (int bits : new int[] {4, 8})
            for (DType t : List.of(DType.F32, DType.F16)) {
                loads.put("gemv_w" + bits + "_" + t.text() + "_silu_mul", WeightOnlyGemv.source(t, DType.F16, bits, KernelSourcesCompileTest.siluMulPrologue(), null));
                loads.put("gemv_w" + bits + "_" + t.text() + "_rmsnorm", WeightOnlyGemv.source(t, DType.F16, bits, null, new Gemv.RmsNorm(1e-5f)));
            }
        gemms.put("gemm_wo_w8_bf16_bf16_scales", WeightOnlyGemm.source(DType.BF16, DType.BF16, 8));
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, loads, ptx -> ptx.contains("ld.global.nc.v4") || ptx.contains("ld.global.v4") ? null : "no 16-byte loads in the PTX"));
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, gemms, ptx -> ptx.contains("bar.sync") ? null : "no barrier: the tile is not shared"));
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, dp4a, ptx -> ptx.contains("dp4a.s32.s32") ? null : "no dp4a in the PTX"));
    }

    @Test void theGemvRefusesShapesItsLoadsDoNotFit() {
        assertNull(WeightOnlyGemv.whyNot(4096, 128, 4));
        assertEquals("K=4016 is not a multiple of 32 (16-byte weight loads)", WeightOnlyGemv.whyNot(4016, 16 * 251, 4));
        assertEquals("group size 16 is not a multiple of 32 (a 16-byte chunk would span two groups)", WeightOnlyGemv.whyNot(4096, 16, 4));
        assertNull(WeightOnlyGemv.whyNot(4096, 16, 8));
        assertEquals("K=44 is not a multiple of 16 (16-byte weight loads)", WeightOnlyGemv.whyNot(44, 4, 8));
        assertThrows(IllegalArgumentException.class, () -> WeightOnlyGemv.source(DType.F16, DType.F16, 3));
        assertThrows(IllegalArgumentException.class, () -> WeightOnlyGemv.source(DType.F64, DType.F16, 4));
    }
}

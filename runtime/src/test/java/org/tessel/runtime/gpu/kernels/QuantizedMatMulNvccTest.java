package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
                loads.put("gemv_w" + bits + "_" + t.text(), WeightOnlyGemv.source(t, DType.F16, bits, 1));
                gemms.put("gemm_wo_w" + bits + "_" + t.text(), WeightOnlyGemm.source(t, DType.F16, bits, WeightOnlyGemm.Form.TILED));
            }
            dp4a.put("gemm_w8a8_" + t.text(), W8A8Gemm.source(t));
        }
        loads.put("gemv_w4_f16_f32_scales", WeightOnlyGemv.source(DType.F16, DType.F32, 4, 1));
        // the fused modes: an eltwise_gemm's SiLU(gate) * up in the x loader, an rmsnorm_gemm's norm (gamma multiplied into x); K split over 1, 2 and 4 warps
        for (int bits : new int[] {4, 8})
            for (DType t : List.of(DType.F32, DType.F16))
                for (int split : new int[] {1, 2, 4}) {
                    loads.put("gemv_w" + bits + "_" + t.text() + "_ks" + split, WeightOnlyGemv.source(t, DType.F16, bits, 8, null, null, split));
                    loads.put("gemv_w" + bits + "_" + t.text() + "_silu_mul_ks" + split, WeightOnlyGemv.source(t, DType.F16, bits, 4, KernelSourcesCompileTest.siluMulPrologue(t != DType.F32), null, split));
                    loads.put("gemv_w" + bits + "_" + t.text() + "_rmsnorm_ks" + split, WeightOnlyGemv.source(t, DType.F16, bits, 4, null, new Gemv.RmsNorm(1e-5f), split));
                    // the staged form (one row a pass: batch-1 decode), plain, with the SiLU prologue and with the norm
                    loads.put("gemv_w" + bits + "_" + t.text() + "_staged_ks" + split, WeightOnlyGemv.source(t, DType.F16, bits, 1, null, null, split, WeightOnlyGemv.Form.STAGED));
                    loads.put("gemv_w" + bits + "_" + t.text() + "_staged_silu_mul_ks" + split, WeightOnlyGemv.source(t, DType.F16, bits, 1, KernelSourcesCompileTest.siluMulPrologue(t != DType.F32), null, split, WeightOnlyGemv.Form.STAGED));
                    loads.put("gemv_w" + bits + "_" + t.text() + "_staged_rmsnorm_ks" + split, WeightOnlyGemv.source(t, DType.F16, bits, 1, null, new Gemv.RmsNorm(1e-5f), split, WeightOnlyGemv.Form.STAGED));
                }
        gemms.put("gemm_wo_w8_bf16_bf16_scales", WeightOnlyGemm.source(DType.BF16, DType.BF16, 8, WeightOnlyGemm.Form.TILED));
        // the dequant form's kernel, into each activation type: 16-byte stores of 8 dequantized codes (two at f32)
        Map<String, String> dequant = new LinkedHashMap<>();
        for (int bits : new int[] {4, 8})
            for (DType t : List.of(DType.F32, DType.F16, DType.BF16)) dequant.put("wo_dequant_w" + bits + "_" + t.text(), WeightOnlyGemm.source(t, DType.F16, bits, WeightOnlyGemm.Form.DEQUANT));
        // the tensor-core form (4-bit, f16): 1 to 8 rows a pass, plain, with the SiLU prologue and with the norm, f16 and f32 scales
        Map<String, String> mma = new LinkedHashMap<>();
        for (int m : new int[] {1, 3, 8})
            for (int split : new int[] {1, 2, 4}) {
                mma.put("gemv_mma_m" + m + "_ks" + split, WeightOnlyGemv.source(DType.F16, DType.F16, 4, m, null, null, split, WeightOnlyGemv.Form.MMA));
                mma.put("gemv_mma_m" + m + "_silu_mul_ks" + split, WeightOnlyGemv.source(DType.F16, DType.F32, 4, m, KernelSourcesCompileTest.siluMulPrologue(true), null, split, WeightOnlyGemv.Form.MMA));
                mma.put("gemv_mma_m" + m + "_rmsnorm_ks" + split, WeightOnlyGemv.source(DType.F16, DType.F16, 4, m, null, new Gemv.RmsNorm(1e-5f), split, WeightOnlyGemv.Form.MMA));
                mma.put("gemv_mma_m" + m + "_u8_ks" + split, WeightOnlyGemv.source(DType.F16, DType.F16, 4, m, KernelSourcesCompileTest.siluMulPrologue(true), null, split, WeightOnlyGemv.Form.MMA, 8));
                mma.put("gemv_mma_m" + m + "_u1_ks" + split, WeightOnlyGemv.source(DType.F16, DType.F16, 4, m, null, null, split, WeightOnlyGemv.Form.MMA, 1));
            }
        // the prefill GEMM's tensor-core form: 4 and 8 bits, f16 and f32 scales
        for (int bits : new int[] {4, 8})
            for (DType s : List.of(DType.F16, DType.F32))
                for (int slice : new int[] {32, 64}) mma.put("gemm_wo_mma" + slice + "_w" + bits + "_s" + s.text(), WeightOnlyGemm.source(DType.F16, s, bits, WeightOnlyGemm.Form.MMA, slice));
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, mma, ptx -> ptx.contains("mma.sync.aligned.m16n8k16") ? null : "no mma in the PTX"));
        assertThrows(IllegalArgumentException.class, () -> WeightOnlyGemm.source(DType.BF16, DType.F16, 4, WeightOnlyGemm.Form.MMA));
        assertThrows(IllegalArgumentException.class, () -> WeightOnlyGemv.source(DType.BF16, DType.F16, 4, 1, null, null, 1, WeightOnlyGemv.Form.MMA));
        assertThrows(IllegalArgumentException.class, () -> WeightOnlyGemv.source(DType.F16, DType.F16, 8, 1, null, null, 1, WeightOnlyGemv.Form.MMA));
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, loads, ptx -> ptx.contains("ld.global.nc.v4") || ptx.contains("ld.global.v4") ? null : "no 16-byte loads in the PTX"));
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, gemms, ptx -> ptx.contains("bar.sync") ? null : "no barrier: the tile is not shared"));
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, dp4a, ptx -> ptx.contains("dp4a.s32.s32") ? null : "no dp4a in the PTX"));
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, dequant, ptx -> ptx.contains("st.global.v4") ? null : "no 16-byte stores in the PTX"));
    }

    @Test void theGemvRefusesShapesItsLoadsDoNotFit() {
        assertNull(WeightOnlyGemv.whyNot(4096, 128, 4));
        assertEquals("K=4016 is not a multiple of 32 (16-byte weight loads)", WeightOnlyGemv.whyNot(4016, 16 * 251, 4));
        assertEquals("group size 16 is not a multiple of 32 (a 16-byte chunk would span two groups)", WeightOnlyGemv.whyNot(4096, 16, 4));
        assertNull(WeightOnlyGemv.whyNot(4096, 16, 8));
        assertEquals("K=44 is not a multiple of 16 (16-byte weight loads)", WeightOnlyGemv.whyNot(44, 4, 8));
        assertThrows(IllegalArgumentException.class, () -> WeightOnlyGemv.source(DType.F16, DType.F16, 3, 1));
        assertThrows(IllegalArgumentException.class, () -> WeightOnlyGemv.source(DType.F64, DType.F16, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> WeightOnlyGemv.source(DType.F16, DType.F16, 4, WeightOnlyGemv.MAX_PASS_ROWS + 1));
        assertEquals(1, WeightOnlyGemv.passes(8));
        assertEquals(2, WeightOnlyGemv.passes(9));
        assertEquals(2, WeightOnlyGemv.passes(16));
        // the forms: staged at one row a pass, tensor cores for 2 to 8 rows of f16 activations and 4-bit symmetric codes in groups of 128
        assertEquals(WeightOnlyGemv.Form.STAGED, WeightOnlyGemv.form(DType.F16, 4, false, 128, 2048, 1));
        assertEquals(WeightOnlyGemv.Form.MMA, WeightOnlyGemv.form(DType.F16, 4, false, 128, 2048, 2));
        assertEquals(WeightOnlyGemv.Form.MMA, WeightOnlyGemv.form(DType.F16, 4, false, 128, 5632, 8));
        assertEquals(WeightOnlyGemv.Form.MMA, WeightOnlyGemv.form(DType.F16, 4, false, 128, 16384, 1));
        assertEquals(WeightOnlyGemv.Form.STAGED, WeightOnlyGemv.form(DType.F16, 4, false, 64, 2048, 1));
        assertEquals(WeightOnlyGemv.Form.STAGED, WeightOnlyGemv.form(DType.BF16, 4, false, 128, 2048, 1));
        assertEquals(WeightOnlyGemv.Form.STAGED, WeightOnlyGemv.form(DType.F16, 8, false, 128, 2048, 1));
        assertEquals(WeightOnlyGemv.Form.PLAIN, WeightOnlyGemv.form(DType.F16, 4, true, 128, 2048, 4));
        assertEquals("codes have zero points", WeightOnlyGemv.mmaWhyNot(DType.F16, 4, true, 128, 2048, 1));
        assertEquals("K=2080 or group size 32 is not a multiple of 128", WeightOnlyGemv.mmaWhyNot(DType.F16, 4, false, 32, 2080, 1));
        assertEquals("8 rows of K=8192 do not fit 98304 bytes of shared memory", WeightOnlyGemv.mmaWhyNot(DType.F16, 4, false, 128, 8192, 8));
        // the tensor-core form's K split: 16 warps an SM on 132 SMs, at least two 128-code steps a warp
        assertEquals(4, WeightOnlyGemv.mmaKSplit(2048, 2048, 1, 132));
        assertEquals(1, WeightOnlyGemv.mmaKSplit(32000, 2048, 1, 132));
        assertEquals(1, WeightOnlyGemv.mmaKSplit(64, 256, 1, 132));
        assertEquals(2, WeightOnlyGemv.mmaKSplit(64, 512, 1, 132));
        assertEquals(256, WeightOnlyGemv.mmaBlocks(2048, 4));
        assertEquals(1000, WeightOnlyGemv.mmaBlocks(32000, 1));
        // chunks a lane loads at once: its K steps rounded up to a power of two, at most 4
        assertEquals(4, WeightOnlyGemv.mmaUnroll(2048, 4));
        assertEquals(4, WeightOnlyGemv.mmaUnroll(5632, 4));
        assertEquals(2, WeightOnlyGemv.mmaUnroll(512, 2));
        assertEquals(1, WeightOnlyGemv.mmaUnroll(256, 2));
        // the staged form: a lane's share of a row in one round where it is 8 chunks or fewer, at least 4
        assertEquals(8, WeightOnlyGemv.stagedUnroll(5632, 4, 1));
        assertEquals(4, WeightOnlyGemv.stagedUnroll(2048, 4, 1));
        assertEquals(4, WeightOnlyGemv.stagedUnroll(5632, 4, 2));
        assertEquals(8, WeightOnlyGemv.stagedUnroll(5632, 8, 2));
        assertEquals(8, WeightOnlyGemv.stagedUnroll(16384, 4, 1));
    }

    /** ptxas for sm_90: the staged form loading 8 chunks a row before it uses any, plain, with the SiLU prologue and with the norm: no spills. */
    @Test void stagedFormLoadingEightChunksFitsInRegisters(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.nvccAvailable(), "nvcc is not on the PATH");
        StringBuilder spills = new StringBuilder();
        for (int bits : new int[] {4, 8})
            for (String mode : List.of("plain", "silu_mul", "rmsnorm"))
                spills.append(ptxasSpills(dir, "gemv_w" + bits + "_staged_u8_" + mode, WeightOnlyGemv.source(DType.F16, DType.F16, bits, 1,
                        mode.equals("silu_mul") ? KernelSourcesCompileTest.siluMulPrologue(true) : null, mode.equals("rmsnorm") ? new Gemv.RmsNorm(1e-5f) : null, 1,
                        WeightOnlyGemv.Form.STAGED, 8)));
        assertEquals("", spills.toString());
    }

    /**
     * ptxas for sm_90 at 1, 4 and 8 activation rows a pass (their accumulators are registers, every row's x chunk
     * against one dequantized weight chunk), 4- and 8-bit, plain, with a SiLU * up prologue and with an RMS norm, K not
     * split and split over 4 warps: no spills under the 128-thread launch bound. Prints the registers each takes.
     */
    @Test void everyRowCountFitsInRegisters(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.nvccAvailable(), "nvcc is not on the PATH");
        StringBuilder spills = new StringBuilder();
        for (int bits : new int[] {4, 8})
            for (String mode : List.of("plain", "silu_mul", "rmsnorm"))
                for (int m : new int[] {1, 4, 8})
                    for (int split : new int[] {1, 4})
                        spills.append(ptxasSpills(dir, "gemv_w" + bits + "_" + mode + "_m" + m + "_ks" + split, WeightOnlyGemv.source(DType.F16, DType.F16, bits, m,
                                mode.equals("silu_mul") ? KernelSourcesCompileTest.siluMulPrologue(true) : null, mode.equals("rmsnorm") ? new Gemv.RmsNorm(1e-5f) : null, split)));
        assertEquals("", spills.toString());
    }

    /** Compiles {@code source} as {@code name} with ptxas -v for sm_90, prints the registers it takes and returns its spills as a line ("" when none). */
    static String ptxasSpills(Path dir, String name, String source) throws Exception {
        Path cu = dir.resolve(name + ".cu");
        Files.writeString(cu, source);
        Process p = new ProcessBuilder("nvcc", "-cubin", "-arch=sm_90", "-Xptxas", "-v", "-o", dir.resolve(name + ".cubin").toString(), cu.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        Matcher regs = Pattern.compile("Used (\\d+) registers").matcher(out), spill = Pattern.compile("(\\d+) bytes spill stores, (\\d+) bytes spill loads").matcher(out);
        assertTrue(regs.find() && spill.find(), out);
        System.out.println("tessel_gemv_wo " + name + ": " + regs.group(1) + " registers, " + spill.group());
        return spill.group(1).equals("0") && spill.group(2).equals("0") ? "" : name + ": " + spill.group() + "\n";
    }
}

package org.tessel.cost;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.TensorType;

/** Hand-computed cases of the analytical model on the H100 SXM datasheet spec. */
class CostModelTest {
    static final DeviceSpec H100 = DeviceSpec.h100Sxm();
    /** No latency floors, so throughput numbers come out by hand. */
    static final CostModel ROOFLINE = new CostModel(H100, CostModel.Params.roofline());
    /** A cuBLAS-like FP16 tensor-core kernel: 128x128x32 tiles, 80% of peak, 90% of bandwidth. */
    static final TacticFeatures GEMM = new TacticFeatures(0.8, true, 128, 128, 32, 8, 0.9, 1);

    @Test void bigSquareGemmByHand() {
        Work w = Work.gemm(4096, 4096, 4096, 2);
        assertEquals(2.0 * 4096 * 4096 * 4096, w.flops());
        assertEquals(2.0 * 2 * 4096 * 4096, w.bytesRead());
        assertEquals(2.0 * 4096 * 4096, w.bytesWritten());
        // 128x128x32 FP16, 3 stages: 49,152 B of shared memory per CTA (4 would fit in 228 KiB),
        // 128*128 accumulators x 8 B = 128 KiB of registers (2 would fit); but one saturates the SM
        assertEquals(1, ROOFLINE.ctasPerSm(GEMM, Precision.FP16), "a 128x128 tile saturates an SM alone");
        // 32 x 32 = 1024 tiles over 132 SMs: 8 waves, the last one 76% full
        assertEquals(8, ROOFLINE.cut(w, GEMM, Precision.FP16, 128, 128, 1).waves());
        assertEquals(1024.0 / 1056, ROOFLINE.waveEfficiency(w, GEMM, Precision.FP16), 1e-15);
        assertEquals(1.0, ROOFLINE.tileFill(w, GEMM));
        CostModel.KernelShape k = ROOFLINE.kernelShape(w, GEMM, Precision.FP16);
        assertEquals(128, k.tileM());
        assertEquals(128, k.tileN());
        assertEquals(1, k.splitK());

        Cost c = ROOFLINE.estimate(w, GEMM, Precision.FP16, false);
        double compute = 2.0 * 4096 * 4096 * 4096 / (989.4e12 * 0.8 * (1024.0 / 1056)) * 1e6; // 179.07 us
        double memory = 3.0 * 2 * 4096 * 4096 / (3350e9 * 0.9) * 1e6;                          // 33.39 us
        assertEquals(compute, c.computeUs(), 1e-9);
        assertEquals(179.066, c.computeUs(), 1e-3);
        assertEquals(memory, c.memoryUs(), 1e-9);
        assertEquals(2.53, c.launchUs(), 1e-12);
        assertEquals(compute + 2.53, c.totalUs(), 1e-9);
        assertTrue(c.computeBound());
        assertEquals(0, c.workspaceBytes());
        assertEquals(compute + 0.75, ROOFLINE.estimate(w, GEMM, Precision.FP16, true).totalUs(), 1e-9, "CUDA graphs launch for 0.75 us");
    }

    /** Stream-K balances a partial last wave (a wave and a half of tiles is not charged two waves), at a fix-up price. */
    @Test void streamKSpreadsAPartialWave() {
        Work w = Work.gemm(4096, 768, 3072, 2);   // BERT-base b32's second FFN GEMM: 192 tiles of 128x128
        CostModel.KernelShape plain = ROOFLINE.kernelShape(w, GEMM, Precision.FP16);
        CostModel.KernelShape sk = ROOFLINE.kernelShape(w, GEMM.withStreamK(true), Precision.FP16);
        assertTrue(sk.streamK() && sk.waveEfficiency() == 1.0, sk.toString());
        assertTrue(ROOFLINE.estimate(w, GEMM.withStreamK(true), Precision.FP16, true).totalUs() < ROOFLINE.estimate(w, GEMM, Precision.FP16, true).totalUs(),
                plain + " vs " + sk);
        // it is one more cut to choose from, never a worse one
        for (Work x : new Work[] {Work.gemm(4096, 4096, 4096, 2), Work.gemm(64, 64, 64, 2), Work.gemm(132 * 128, 128, 1024, 2)})
            assertTrue(ROOFLINE.estimate(x, GEMM.withStreamK(true), Precision.FP16, true).totalUs() <= ROOFLINE.estimate(x, GEMM, Precision.FP16, true).totalUs() + 1e-9, x.toString());
    }

    @Test void precisionPicksThePeak() {
        Work w = Work.gemm(4096, 4096, 4096, 4);
        TacticFeatures simt = GEMM.withTensorCores(false).withAlignment(1);
        // FP32 on CUDA cores: 66.9 TFLOPS; 128x128x32 FP32 tiles: 98,304 B smem -> 2 CTAs, registers -> 2
        assertEquals("KernelShape[tileM=128, tileN=128, splitK=1, ctasPerSm=1, tiles=1024, waves=8, waveEfficiency=0.9696969696969697, tileFill=1.0, reuse=1.0, streamKFixupBytes=0.0]",
                ROOFLINE.kernelShape(w, simt, Precision.FP32).toString());
        double fp32 = ROOFLINE.estimate(w, simt, Precision.FP32, false).computeUs();
        assertEquals(2.0 * 4096 * 4096 * 4096 / (66.9e12 * 0.8 * (1024.0 / 1056)) * 1e6, fp32, 1e-6);
        double tf32 = ROOFLINE.estimate(w, GEMM.withAlignment(4), Precision.TF32, false).computeUs();
        assertEquals(2.0 * 4096 * 4096 * 4096 / (494.7e12 * 0.8 * (1024.0 / 1056)) * 1e6, tf32, 1e-6);
        assertEquals(494.7 / 66.9, fp32 / tf32, 1e-9);
    }

    @Test void waveQuantizationEdges() {
        int slots = 132; // 128x128 FP16 tiles, one saturates an SM
        Work full = Work.gemm(128L * slots, 128, 64, 2);
        assertEquals(1.0, ROOFLINE.waveEfficiency(full, GEMM, Precision.FP16), 1e-15);
        assertEquals(1, ROOFLINE.cut(full, GEMM, Precision.FP16, 128, 128, 1).waves());
        Work oneMore = Work.gemm(128L * (slots + 1), 128, 64, 2);
        assertEquals((slots + 1.0) / (2 * slots), ROOFLINE.waveEfficiency(oneMore, GEMM, Precision.FP16), 1e-15);
        assertEquals(2, ROOFLINE.cut(oneMore, GEMM, Precision.FP16, 128, 128, 1).waves());
        Work single = Work.gemm(128, 128, 64, 2);
        assertEquals(1.0 / slots, ROOFLINE.waveEfficiency(single, GEMM, Precision.FP16), 1e-15);
        // an edge tile computes padding: M = 129 fills 129 / 256 of two 128-row tiles
        Work ragged = Work.gemm(129, 128, 64, 2);
        assertEquals(129.0 / 256, ROOFLINE.tileFill(ragged, GEMM), 1e-15);
        // an untiled kernel has no quantization
        TacticFeatures stream = TacticFeatures.streaming(0.5, 0.8, 1);
        assertEquals(1.0, ROOFLINE.waveEfficiency(full, stream, Precision.FP16));
        assertEquals(1.0, ROOFLINE.tileFill(ragged, stream));
    }

    @Test void smallerTilesShareAnSm() {
        // CTAs needed to saturate an SM: 128*128 / (tm*tn), 1 to 4, if resources let them in
        assertEquals(1, ROOFLINE.ctasPerSm(256, 128, 32, Precision.FP16));
        assertEquals(2, ROOFLINE.ctasPerSm(64, 128, 32, Precision.FP16));
        assertEquals(4, ROOFLINE.ctasPerSm(64, 64, 32, Precision.FP16));
        assertEquals(4, ROOFLINE.ctasPerSm(16, 16, 32, Precision.FP16));
        // 64x64x256 FP32 slices: 3 x 128 x 256 x 4 = 393,216 B of shared memory: not even one fits, so 1
        assertEquals(1, ROOFLINE.ctasPerSm(64, 64, 256, Precision.FP32));
    }

    @Test void smallGemmsGetSmallerTilesOrSplitK() {
        Work w = Work.gemm(128, 768, 768, 2); // a BERT projection at batch 1
        CostModel.KernelShape fixed = ROOFLINE.cut(w, GEMM, Precision.FP16, 128, 128, 1);
        assertEquals(6, fixed.tiles());
        CostModel.KernelShape picked = ROOFLINE.kernelShape(w, GEMM, Precision.FP16);
        assertTrue(picked.tiles() > fixed.tiles(), "more, smaller pieces: " + picked);
        assertTrue(picked.efficiency() > fixed.efficiency());
        Cost c = ROOFLINE.estimate(w, GEMM, Precision.FP16, false);
        double fixedCompute = w.flops() / (989.4e12 * 0.8 * fixed.efficiency()) * 1e6;
        assertTrue(c.computeUs() < fixedCompute, c + " vs " + fixedCompute);
        assertEquals(picked.splitKWorkspaceBytes(w), c.workspaceBytes(), "split-K partials are workspace");
        if (picked.splitK() > 1) assertEquals((long) picked.splitK() * 128 * 768 * 4, c.workspaceBytes());
    }

    @Test void misalignedTensorCoreShapesPayThePenalty() {
        Work aligned = Work.gemm(4096, 4096, 4096, 2);
        Work oddK = new Work(aligned.flops(), aligned.bytesRead(), aligned.bytesWritten(), 4096, 4096, 4095);
        Work oddN = new Work(aligned.flops(), aligned.bytesRead(), aligned.bytesWritten(), 4096, 4095, 4096);
        double base = ROOFLINE.estimate(aligned, GEMM, Precision.FP16, false).computeUs();
        assertEquals(1.0, ROOFLINE.alignmentFactor(aligned, GEMM));
        assertEquals(0.5, ROOFLINE.alignmentFactor(oddK, GEMM));
        assertEquals(2 * base, ROOFLINE.estimate(oddK, GEMM, Precision.FP16, false).computeUs(), 1e-9);
        assertEquals(0.5, ROOFLINE.alignmentFactor(oddN, GEMM));
        CostModel harsh = ROOFLINE.withParams(ROOFLINE.params().withMisalignedPenalty(0.25));
        assertEquals(4 * base, harsh.estimate(oddK, GEMM, Precision.FP16, false).computeUs(), 1e-9);
        // CUDA cores need no alignment
        TacticFeatures simt = GEMM.withTensorCores(false);
        assertEquals(1.0, ROOFLINE.alignmentFactor(oddK, simt));
    }

    @Test void fusedWorkSavesMemoryTime() {
        // a chain of two elementwise ops on 1M FP16 elements: unfused, each reads and writes;
        // fused, the intermediate never reaches memory
        double e = 1 << 20;
        Work first = new Work(e, 2 * e, 2 * e, 0, 0, 0), second = new Work(e, 2 * e, 2 * e, 0, 0, 0);
        Work fused = new Work(2 * e, 2 * e, 2 * e, 0, 0, 0);
        TacticFeatures f = TacticFeatures.streaming(0.5, 0.85, 1);
        Cost a = ROOFLINE.estimate(first, f, Precision.FP16, true), b = ROOFLINE.estimate(second, f, Precision.FP16, true);
        Cost c = ROOFLINE.estimate(fused, f, Precision.FP16, true);
        assertEquals(4 * e / (3350e9 * 0.85) * 1e6, c.memoryUs(), 1e-12);
        assertEquals(a.memoryUs() + b.memoryUs(), 2 * c.memoryUs(), 1e-12);
        assertTrue(c.totalUs() < a.totalUs() + b.totalUs() - 0.75 + 1e-12, "one launch fewer and half the traffic");
    }

    @Test void reformatAndCastCosts() {
        TensorType t = TensorType.of(DType.F16, 1, 64, 56, 56);
        double bytes = 2.0 * 64 * 56 * 56 * 2; // read and write
        assertEquals(bytes / (3350e9 * 0.7) * 1e6 + 2.53, ROOFLINE.reformatUs(t), 1e-12);
        assertEquals(bytes / (3350e9 * 0.7) * 1e6 + 0.75, ROOFLINE.reformatUs(t, true), 1e-12);
        TensorType f32 = t.withDType(DType.F32);
        assertEquals(64 * 56 * 56 * (4.0 + 2) / (3350e9 * 0.85) * 1e6 + 2.53, ROOFLINE.castUs(f32, DType.F16), 1e-12);
        assertEquals(0, ROOFLINE.castUs(t, DType.F16), "no cast to the same type");
        CostModel withLatency = new CostModel(H100);
        assertEquals(ROOFLINE.reformatUs(t) + 0.5, withLatency.reformatUs(t), 1e-12, "the default least kernel latency");
    }

    @Test void latencyFloorsBindOnTinyKernels() {
        CostModel m = new CostModel(H100); // 100 ns per main-loop step, 0.5 us least memory time
        Work tiny = Work.gemm(16, 16, 4096, 2);
        CostModel.KernelShape k = m.kernelShape(tiny, GEMM, Precision.FP16);
        Cost c = m.estimate(tiny, GEMM, Precision.FP16, true);
        // the main loop's latency chain, then the split-K reduction of fp32 partials
        assertTrue(k.splitK() > 1, k.toString());
        double reduction = 2.0 * k.splitK() * 16 * 16 * 4 / (3350e9 * 0.9) * 1e6;
        assertEquals(k.mainLoopSteps(tiny, GEMM) * 0.1 + reduction, c.computeUs(), 1e-9, "latency bound: " + k);
        assertTrue(c.computeUs() > ROOFLINE.estimate(tiny, GEMM, Precision.FP16, true).computeUs());
        Cost e = m.estimate(new Work(64, 256, 256, 0, 0, 0), TacticFeatures.streaming(0.5, 0.85, 1), Precision.FP16, true);
        assertEquals(512 / (3350e9 * 0.85) * 1e6 + 0.5, e.memoryUs(), 1e-12);
    }

    @Test void viewsCostNothingAndScalesApply() {
        assertEquals(Cost.ZERO, ROOFLINE.estimate(Work.gemm(64, 64, 64, 2), TacticFeatures.view(), Precision.FP16, false));
        Work w = Work.gemm(4096, 4096, 4096, 2);
        double base = ROOFLINE.estimate(w, GEMM, Precision.FP16, false).computeUs();
        CostModel slow = ROOFLINE.withParams(ROOFLINE.params().withTensorCoreScale(0.5));
        assertEquals(2 * base, slow.estimate(w, GEMM, Precision.FP16, false).computeUs(), 1e-9);
        CostModel fam = ROOFLINE.withParams(ROOFLINE.params().withFamilyScale("cublas", 1.5).withFamilyScale("cublas.gemm.tuned", 0.5));
        assertEquals(1.5, fam.params().familyScale("cublas.gemm"));
        assertEquals(0.5, fam.params().familyScale("cublas.gemm.tuned"));
        assertEquals(0.5, fam.params().familyScale("cublas.gemm.tuned.v2"));
        assertEquals(1.0, fam.params().familyScale("cudnn.conv"));
        assertEquals(1.0, fam.params().familyScale("cublasx"), "prefixes match at dots only");
        Cost scaled = fam.estimate("cublas.gemm", w, GEMM, Precision.FP16, false);
        assertEquals(1.5 * base, scaled.computeUs(), 1e-9);
        assertEquals(2.53, scaled.launchUs(), 1e-12, "family scales leave the launch overhead alone");
    }

    @Test void hostFallbackIsDearOnAGpuAndPlainOnTheHost() {
        Work w = new Work(1e6, 4e6, 4e6, 0, 0, 0);
        TacticFeatures f = TacticFeatures.streaming(1, 1, 1);
        Cost onGpu = ROOFLINE.estimate(w, f, Precision.FP32, false);
        Cost fallback = ROOFLINE.hostFallback("cpu.reference", w, f, false);
        assertTrue(fallback.totalUs() > onGpu.totalUs() + 20, fallback + " vs " + onGpu);
        CostModel cpu = new CostModel(DeviceSpec.cpuReference());
        assertEquals(cpu.estimate("cpu.reference", w, f, Precision.FP32, false), cpu.hostFallback("cpu.reference", w, f, false));
    }

    @Test void paramsStoreAndLoad(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        var p = CostModel.Params.defaults().withLaunchScale(3.5).withFamilyScale("cudnn.conv", 0.9);
        java.nio.file.Path f = dir.resolve("p.properties");
        p.store(f, "test");
        assertEquals(p, CostModel.Params.load(f));
        java.nio.file.Files.writeString(f, "launch_scale=fast\n");
        var e = assertThrows(IllegalArgumentException.class, () -> CostModel.Params.load(f));
        assertEquals(f + ": key 'launch_scale' is not a number: 'fast'", e.getMessage());
        java.nio.file.Files.writeString(f, "launch_scael=2\n");
        e = assertThrows(IllegalArgumentException.class, () -> CostModel.Params.load(f));
        assertTrue(e.getMessage().startsWith(f + ": unknown key 'launch_scael'"), e.getMessage());
        java.nio.file.Files.writeString(f, "misaligned_penalty=2\n");
        e = assertThrows(IllegalArgumentException.class, () -> CostModel.Params.load(f));
        assertEquals(f + ": misalignedPenalty must be in (0, 1], got 2.0", e.getMessage());
        // the shipped fit of the H200 table loads and differs from the defaults
        var fitted = CostModel.Params.h200Fitted();
        assertNotEquals(CostModel.Params.defaults(), fitted);
        assertTrue(fitted.familyScale().containsKey("cudnn.conv"));
    }

    @Test void paramsRefuseNonsense() {
        var p = CostModel.Params.defaults();
        assertThrows(IllegalArgumentException.class, () -> p.withTensorCoreScale(0));
        assertThrows(IllegalArgumentException.class, () -> p.withMisalignedPenalty(1.5));
        assertThrows(IllegalArgumentException.class, () -> p.withKernelLatencyUs(-1));
        var e = assertThrows(IllegalArgumentException.class, () -> p.withFamilyScale("cudnn", Double.NaN));
        assertEquals("familyScale[cudnn] must be a positive number, got NaN", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TacticFeatures(1.2, true, 128, 128, 32, 8, 0.9, 1));
        assertThrows(IllegalArgumentException.class, () -> new TacticFeatures(0.8, true, 128, 0, 32, 8, 0.9, 1));
    }
}

package org.tessel.cost;

/**
 * What a tactic tells the cost model about itself, in the spirit of Graal's {@code @NodeInfo}
 * cost hints: how close to peak it gets on an ideal shape, whether it uses tensor cores, the CTA
 * tile it computes (for wave quantization), the alignment its tensor-core path needs, how well it
 * streams memory, and how many kernels it launches.
 *
 * @param peakEfficiency    fraction of the device's peak at an ideal shape, in (0, 1]
 * @param tensorCores       true when it runs on tensor cores (peak of its precision), false for CUDA cores (FP32 peak)
 * @param tileM             CTA tile rows (GEMM M: output pixels / rows); 0 when the tactic is not tiled as a GEMM
 * @param tileN             CTA tile columns (GEMM N: output channels / columns)
 * @param tileK             K slice per pipeline stage (sizes the shared-memory footprint, hence CTAs per SM)
 * @param alignmentElements K and N must be multiples of this for full tensor-core speed; 1 when there is no such need
 * @param memoryEfficiency  fraction of peak memory bandwidth it reaches, in (0, 1]
 * @param kernelLaunches    kernels it launches; 0 for a tactic that only reinterprets metadata (a view): it costs nothing
 * @param maxSplitK         the most slices it may split K into for small outputs (cuBLAS does, cuDNN's forward
 *                          convolutions do not: 1)
 * @param streamK           whether its library may balance the last partial wave across every SM by splitting those tiles'
 *                          K (stream-K, as cuBLAS's kernels do), so a GEMM of a wave and a half is not charged two waves
 */
public record TacticFeatures(double peakEfficiency, boolean tensorCores, int tileM, int tileN, int tileK,
                             int alignmentElements, double memoryEfficiency, int kernelLaunches, int maxSplitK, boolean streamK) {
    /** Split-K up to the cost model's limit, as a GEMM library's heuristic would. */
    public static final int ANY_SPLIT_K = 16;

    /** A tactic that may split K as far as the model likes ({@value #ANY_SPLIT_K}). */
    public TacticFeatures(double peakEfficiency, boolean tensorCores, int tileM, int tileN, int tileK,
                          int alignmentElements, double memoryEfficiency, int kernelLaunches) {
        this(peakEfficiency, tensorCores, tileM, tileN, tileK, alignmentElements, memoryEfficiency, kernelLaunches, ANY_SPLIT_K, false);
    }

    /** A tactic without stream-K. */
    public TacticFeatures(double peakEfficiency, boolean tensorCores, int tileM, int tileN, int tileK,
                          int alignmentElements, double memoryEfficiency, int kernelLaunches, int maxSplitK) {
        this(peakEfficiency, tensorCores, tileM, tileN, tileK, alignmentElements, memoryEfficiency, kernelLaunches, maxSplitK, false);
    }

    public TacticFeatures {
        if (!(peakEfficiency > 0 && peakEfficiency <= 1))
            throw new IllegalArgumentException("peakEfficiency must be in (0, 1], got " + peakEfficiency);
        if (!(memoryEfficiency > 0 && memoryEfficiency <= 1))
            throw new IllegalArgumentException("memoryEfficiency must be in (0, 1], got " + memoryEfficiency);
        if (tileM < 0 || tileN < 0 || tileK < 0) throw new IllegalArgumentException("tile sizes must be >= 0");
        if ((tileM == 0) != (tileN == 0)) throw new IllegalArgumentException("tileM and tileN are both 0 (untiled) or both positive");
        if (alignmentElements < 1) throw new IllegalArgumentException("alignmentElements must be >= 1, got " + alignmentElements);
        if (kernelLaunches < 0) throw new IllegalArgumentException("kernelLaunches must be >= 0, got " + kernelLaunches);
        if (maxSplitK < 1) throw new IllegalArgumentException("maxSplitK must be >= 1, got " + maxSplitK);
    }

    /** A memory-bound kernel that is not tiled as a GEMM (elementwise, reductions, copies). */
    public static TacticFeatures streaming(double peakEfficiency, double memoryEfficiency, int kernelLaunches) {
        return new TacticFeatures(peakEfficiency, false, 0, 0, 0, 1, memoryEfficiency, kernelLaunches, 1);
    }

    /** A metadata-only tactic (reshape, squeeze...): no kernel, no time. */
    public static TacticFeatures view() { return new TacticFeatures(1, false, 0, 0, 0, 1, 1, 0, 1); }

    public boolean tiled() { return tileM > 0; }

    public TacticFeatures withPeakEfficiency(double e) {
        return new TacticFeatures(e, tensorCores, tileM, tileN, tileK, alignmentElements, memoryEfficiency, kernelLaunches, maxSplitK, streamK);
    }

    public TacticFeatures withMemoryEfficiency(double e) {
        return new TacticFeatures(peakEfficiency, tensorCores, tileM, tileN, tileK, alignmentElements, e, kernelLaunches, maxSplitK, streamK);
    }

    public TacticFeatures withTensorCores(boolean tc) {
        return new TacticFeatures(peakEfficiency, tc, tileM, tileN, tileK, alignmentElements, memoryEfficiency, kernelLaunches, maxSplitK, streamK);
    }

    public TacticFeatures withAlignment(int a) {
        return new TacticFeatures(peakEfficiency, tensorCores, tileM, tileN, tileK, a, memoryEfficiency, kernelLaunches, maxSplitK, streamK);
    }

    public TacticFeatures withMaxSplitK(int s) {
        return new TacticFeatures(peakEfficiency, tensorCores, tileM, tileN, tileK, alignmentElements, memoryEfficiency, kernelLaunches, s, streamK);
    }

    public TacticFeatures withStreamK(boolean b) {
        return new TacticFeatures(peakEfficiency, tensorCores, tileM, tileN, tileK, alignmentElements, memoryEfficiency, kernelLaunches, maxSplitK, b);
    }
}

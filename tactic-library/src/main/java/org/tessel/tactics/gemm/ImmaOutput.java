package org.tessel.tactics.gemm;

import org.tessel.cost.Work;

/**
 * What an INT8 output costs through cuBLASLt's IMMA matmul, in bytes of HBM traffic a byte, per form; used by every
 * tactic whose INT8 form is that matmul ({@code cublaslt.gemm*}, {@code cublaslt.conv1x1}, {@code cublaslt.conv.im2col}).
 *
 * <p>The requantizing form (the runtime's {@code Int8Gemm.requantizing}: per-channel alphas as a device vector, int8 D,
 * bias, residual and ReLU in the epilogue) writes its output at about a third of the rate its inputs are read at. An
 * H100 (2026-12-07, {@code benchmarks/results/gpu-2026-12-07-twenty-third/calls/int8_probe.py}, median of 20) took 293 us
 * for m = 256 channels, n = 802,816 rows, K = 64 (205 MB written, 51 MB read; the model had 104), 153 us for
 * 512 x 200,704 x 128, 96 us for 1024 x 50,176 x 256 and 84 us for 64 x 802,816 x 64: the written bytes weighted 3.3x
 * fit those within 30% (and overprice 64 x 802,816 x 256, 103 us, whose reading dominates, by half). With a host alpha
 * and no epilogue the first ran in 113 us (8 algorithms against the vector form's 1), so the vector form is what costs.
 * The int32 form (exact sums, then Tessel's INT8 epilogue) writes 4-byte sums that the epilogue reads back and writes
 * as int8: 9 bytes a code.
 */
public final class ImmaOutput {
    private ImmaOutput() {}

    /** Weight of an output byte of the requantizing form. */
    public static final double REQUANTIZED = 3.3;
    /** Weight of an output byte of the int32 form (4 written, 4 read back, 1 written). */
    public static final double INT32 = 9.0;

    /** {@code w} with its written bytes weighted as the form writes them. */
    public static Work weighted(Work w, boolean int32Form) {
        return new Work(w.flops(), w.bytesRead(), w.bytesWritten() * (int32Form ? INT32 : REQUANTIZED), w.gemmM(), w.gemmN(), w.gemmK());
    }
}

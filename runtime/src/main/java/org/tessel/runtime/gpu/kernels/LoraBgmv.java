package org.tessel.runtime.gpu.kernels;

/**
 * Source and launch geometry of the multi-adapter LoRA kernel ({@code lora_bgmv.cu}, tactic id
 * {@code tessel.lora.bgmv}): {@code tessel.LoraDelta} in f32, each (batch row, token) one block that
 * gathers its row's adapter. Written without a GPU: checked by nvcc and by running it on the host
 * under the CUDA emulation shim against the op's reference (LoraBgmvTest). Not in the tactic
 * catalogue and not wired into the GPU engine yet (a GPU engine refuses tessel.LoraDelta by name).
 */
public final class LoraBgmv {
    private LoraBgmv() {}

    /** Threads per block (4 warps). */
    public static final int THREADS = 128;
    /** Largest stacked rank: the shrink's results live in shared memory. */
    public static final int MAX_RANK = 64;

    public static String source() { return KernelCompiler.prelude() + KernelCompiler.resource("lora_bgmv.cu"); }

    /** Why the kernel cannot run this stacked rank, or null. */
    public static String whyNot(int rank) {
        return rank < 1 || rank > MAX_RANK ? "stacked rank " + rank + " is outside [1, " + MAX_RANK + "] (shared memory holds one row's x·Aᵀ)" : null;
    }

    /** lora_b [S, N, R] as the op stores it, transposed to the kernel's [S, R, N]. */
    public static float[] transposeB(float[] b, int slots, int n, int r) {
        float[] t = new float[b.length];
        for (int s = 0; s < slots; s++)
            for (int j = 0; j < n; j++)
                for (int q = 0; q < r; q++) t[(s * r + q) * n + j] = b[(s * n + j) * r + q];
        return t;
    }

    /**
     * Launches delta = LoraDelta(x [rows, tokens, K], a, bt, scales, ids [rows]) into y [rows, tokens, N]
     * on {@code stream}, all f32 but ids (i32, as the GPU engine stores integer activations); refuses, before any launch, a rank the kernel does not take.
     */
    public static void launch(KernelCompiler kc, int rows, int tokens, int k, int n, int r, int slots, org.tessel.runtime.cuda.DeviceBuffer x,
                              org.tessel.runtime.cuda.DeviceBuffer a, org.tessel.runtime.cuda.DeviceBuffer bt, org.tessel.runtime.cuda.DeviceBuffer scales,
                              org.tessel.runtime.cuda.DeviceBuffer ids, org.tessel.runtime.cuda.DeviceBuffer y, org.tessel.runtime.cuda.CudaStream stream) {
        String why = whyNot(r);
        if (why != null) throw new IllegalArgumentException("tessel.lora.bgmv: " + why);
        if ((long) rows * tokens > Integer.MAX_VALUE) throw new IllegalArgumentException("tessel.lora.bgmv: " + rows + " x " + tokens + " row-tokens exceed one grid");
        var kernel = kc.kernel("tessel_lora_bgmv.cu", LoraBgmv::source, "tessel_lora_bgmv");
        var args = org.tessel.runtime.cuda.CudaKernel.args().ptr(x).ptr(a).ptr(bt).ptr(scales).ptr(ids).ptr(y).i32(tokens).i32(k).i32(n).i32(r).i32(slots);
        kernel.launch(rows * tokens, 1, 1, THREADS, 1, 1, 0, stream, args);
    }
}

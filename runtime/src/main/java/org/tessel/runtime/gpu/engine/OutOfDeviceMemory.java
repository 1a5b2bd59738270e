package org.tessel.runtime.gpu.engine;

import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaException;

/**
 * Turns a CUDA out-of-memory failure into an error that says what was being done, how much memory
 * the device has free, and what to try; everything allocated for the failed step is freed before
 * this is thrown (the callers close what they allocated), so device memory is back where it was.
 */
final class OutOfDeviceMemory {
    private OutOfDeviceMemory() {}

    /** CUDA_ERROR_OUT_OF_MEMORY. */
    static final int CUDA_ERROR_OUT_OF_MEMORY = 2;

    static boolean is(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause())
            if (t instanceof CudaException c && c.code() == CUDA_ERROR_OUT_OF_MEMORY) return true;
        return false;
    }

    /** {@code e} itself, or a {@link GpuEngineException} naming the step when {@code e} is an out-of-memory failure. */
    static RuntimeException wrap(RuntimeException e, String doing, CudaContext context) {
        if (!is(e)) return e;
        String free = "";
        try {
            long[] info = context.memoryInfo();
            free = String.format(" (device has %.1f of %.1f GiB free after freeing this step's memory)", info[0] / 1073741824.0, info[1] / 1073741824.0);
        } catch (RuntimeException ignored) {
            // the report is best effort
        }
        return new GpuEngineException("out of device memory " + doing + free + ": " + e.getMessage()
                + "; use a smaller batch, fewer execution contexts, or a lower precision", e);
    }
}

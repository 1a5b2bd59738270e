package org.tessel.runtime.cuda;

import jcuda.driver.CUresult;

/** A failed CUDA driver call (or emulated device call): names the call and the CUresult (its name and code). */
public final class CudaException extends RuntimeException {
    private final int code;

    public CudaException(String call, int code) {
        super(call + " failed: " + CUresult.stringFor(code) + " (" + code + ")");
        this.code = code;
    }

    /** A failed call of the emulated device, with what went wrong beyond the code. */
    public CudaException(String call, int code, String detail) {
        super(call + " failed: " + CUresult.stringFor(code) + " (" + code + "): " + detail);
        this.code = code;
    }

    public CudaException(String message) {
        super(message);
        this.code = -1;
    }

    /** The CUresult code, or -1 when the failure did not come from a driver call. */
    public int code() { return code; }

    /** Throws when a driver call did not return CUDA_SUCCESS. */
    static void check(String call, int result) {
        if (result != CUresult.CUDA_SUCCESS) throw new CudaException(call, result);
    }
}

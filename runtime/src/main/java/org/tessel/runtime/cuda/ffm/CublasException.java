package org.tessel.runtime.cuda.ffm;

/** A cuBLAS or cuBLASLt call returned a status other than CUBLAS_STATUS_SUCCESS. */
public final class CublasException extends RuntimeException {
    private final int status;

    public CublasException(String call, int status, String statusName) {
        super(call + " failed: " + statusName + " (" + status + ")");
        this.status = status;
    }

    public int status() { return status; }
}

package org.tessel.runtime.cuda.ffm;

/** A cuDNN call returned a status other than CUDNN_STATUS_SUCCESS. */
public final class CudnnException extends RuntimeException {
    private final int status;

    public CudnnException(String call, int status, String text) {
        super(call + " failed: " + text + " (" + status + ")");
        this.status = status;
    }

    public int status() { return status; }
}

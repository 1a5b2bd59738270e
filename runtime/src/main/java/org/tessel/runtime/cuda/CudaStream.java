package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * A CUDA stream. {@link #DEFAULT} is the legacy default stream (handle 0). {@link #handleAddress()}
 * gives the raw cudaStream_t for cuBLAS and cuDNN, which take the same handle.
 */
public final class CudaStream implements AutoCloseable {
    /** CU_STREAM_NON_BLOCKING (cuda.h): no implicit synchronization with the default stream. */
    public static final int NON_BLOCKING = 0x1;

    /** The legacy default stream. */
    public static final CudaStream DEFAULT = new CudaStream();

    private final Handle handle;
    private final boolean owned;
    private boolean closed;

    /** CUstream whose raw value this package can read (getNativePointer is protected). */
    static final class Handle extends CUstream {
        long raw() { return getNativePointer(); }
    }

    private CudaStream() {
        this.handle = new Handle();
        this.owned = false;
    }

    private CudaStream(int flags) {
        this.handle = new Handle();
        this.owned = true;
        check("cuStreamCreate", JCudaDriver.cuStreamCreate(handle, flags));
    }

    /** A new non-blocking stream. */
    public static CudaStream create() { return new CudaStream(NON_BLOCKING); }

    public CUstream handle() { return handle; }

    /** The raw stream handle (0 for the default stream). */
    public long handleAddress() { return handle.raw(); }

    /** Work enqueued on this stream after this call waits until {@code event} (as last recorded) is reached. */
    public void waitFor(CudaEvent event) { check("cuStreamWaitEvent", JCudaDriver.cuStreamWaitEvent(handle, event.handle(), 0)); }

    public void synchronize() { check("cuStreamSynchronize", JCudaDriver.cuStreamSynchronize(handle)); }

    @Override public void close() {
        if (closed || !owned) return;
        closed = true;
        check("cuStreamDestroy", JCudaDriver.cuStreamDestroy(handle));
    }
}

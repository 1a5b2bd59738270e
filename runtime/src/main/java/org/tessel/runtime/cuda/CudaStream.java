package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * A CUDA stream. {@link #DEFAULT} is the legacy default stream (handle 0). {@link #handleAddress()}
 * gives the raw cudaStream_t for cuBLAS and cuDNN, which take the same handle. A stream of the
 * emulated device runs its work when it is issued (so synchronizing waits for nothing), or, while
 * a {@link CudaGraph} captures it, records the work for the graph.
 */
public final class CudaStream implements AutoCloseable {
    /** CU_STREAM_NON_BLOCKING (cuda.h): no implicit synchronization with the default stream. */
    public static final int NON_BLOCKING = 0x1;

    /** The legacy default stream. */
    public static final CudaStream DEFAULT = new CudaStream();

    private final Handle handle;
    private final boolean owned;
    /** True for a stream created on the emulated device (the default stream follows the current context). */
    private final boolean emulated;
    /** The graph capturing this emulated stream, or null. */
    CudaGraph capture;
    private boolean closed;

    /** CUstream whose raw value this package can read (getNativePointer is protected). */
    static final class Handle extends CUstream {
        long raw() { return getNativePointer(); }
    }

    private CudaStream() {
        this.handle = new Handle();
        this.owned = false;
        this.emulated = false;
    }

    private CudaStream(int flags) {
        this.handle = new Handle();
        this.owned = true;
        this.emulated = CudaContext.emulatedDevice() != null;
        if (!emulated) check("cuStreamCreate", JCudaDriver.cuStreamCreate(handle, flags));
    }

    /** A new non-blocking stream. */
    public static CudaStream create() { return new CudaStream(NON_BLOCKING); }

    public CUstream handle() { return handle; }

    /** The raw stream handle (0 for the default stream and for the emulated device's streams, which no library takes). */
    public long handleAddress() { return handle.raw(); }

    /** True when this stream's work runs on the emulated device. */
    public boolean isEmulated() { return this == DEFAULT ? CudaContext.emulatedDevice() != null : emulated; }

    /** Runs {@code work} of the emulated device now, or records it for the graph capturing this stream. */
    void emulate(Runnable work) {
        if (capture != null) capture.record(work);
        else work.run();
    }

    /** Work enqueued on this stream after this call waits until {@code event} (as last recorded) is reached. */
    public void waitFor(CudaEvent event) {
        if (isEmulated()) {
            // what ran before the event has run; an event recorded under capture pulls this stream into the capture
            CudaGraph g = event.capturedBy();
            if (g != null && capture == null) g.join(this);
            return;
        }
        check("cuStreamWaitEvent", JCudaDriver.cuStreamWaitEvent(handle, event.handle(), 0));
    }

    public void synchronize() {
        if (isEmulated()) {
            if (capture != null) throw new CudaException("cuStreamSynchronize on a stream being captured", CUresult.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
            return;
        }
        check("cuStreamSynchronize", JCudaDriver.cuStreamSynchronize(handle));
    }

    @Override public void close() {
        if (closed || !owned) return;
        closed = true;
        if (!emulated) check("cuStreamDestroy", JCudaDriver.cuStreamDestroy(handle));
    }
}

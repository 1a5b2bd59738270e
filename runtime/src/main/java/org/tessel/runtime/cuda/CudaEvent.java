package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import jcuda.driver.CUevent;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * A CUDA event for timing: record on a stream, synchronize, read the elapsed milliseconds. On the
 * emulated device an event holds the host time at which its stream reached it: elapsed times are
 * CPU times of the emulation, never GPU figures.
 */
public final class CudaEvent implements AutoCloseable {
    private final CUevent event;
    private final boolean emulated;
    /** When an emulated event was last reached (System.nanoTime), or -1 before its first record. */
    private volatile long reachedNanos = -1;
    /** The graph that captured this emulated event's last record, or null. */
    private CudaGraph capturedBy;
    private boolean closed;

    public CudaEvent() {
        // CU_EVENT_DEFAULT (0): timing enabled
        this(0);
    }

    private CudaEvent(int flags) {
        this.emulated = CudaContext.emulatedDevice() != null;
        this.event = emulated ? null : new CUevent();
        if (!emulated) check("cuEventCreate", JCudaDriver.cuEventCreate(event, flags));
    }

    /** An event only for ordering streams (CU_EVENT_DISABLE_TIMING: cheaper to record and wait on). */
    public static CudaEvent forOrdering() { return new CudaEvent(0x2); }

    CUevent handle() { return event; }

    /** The graph capturing the stream this emulated event was last recorded on, while that capture lasts. */
    CudaGraph capturedBy() { return capturedBy != null && capturedBy.isCapturing() ? capturedBy : null; }

    public CudaEvent record(CudaStream stream) {
        if (emulated) {
            capturedBy = stream.capture;
            stream.emulate(() -> reachedNanos = System.nanoTime());
            return this;
        }
        check("cuEventRecord", JCudaDriver.cuEventRecord(event, stream.handle()));
        return this;
    }

    public void synchronize() { if (!emulated) check("cuEventSynchronize", JCudaDriver.cuEventSynchronize(event)); }

    /** Milliseconds from {@code start} to this event; both must have been recorded and this one reached. */
    public float elapsedSince(CudaEvent start) {
        synchronize();
        if (emulated) {
            if (reachedNanos < 0 || start.reachedNanos < 0)
                throw new CudaException("cuEventElapsedTime of an event that was never reached", CUresult.CUDA_ERROR_INVALID_HANDLE);
            return (reachedNanos - start.reachedNanos) / 1e6f;
        }
        float[] ms = new float[1];
        check("cuEventElapsedTime", JCudaDriver.cuEventElapsedTime(ms, start.event, event));
        return ms[0];
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        if (!emulated) check("cuEventDestroy", JCudaDriver.cuEventDestroy(event));
    }
}

package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;

/** A CUDA event for timing: record on a stream, synchronize, read the elapsed milliseconds. */
public final class CudaEvent implements AutoCloseable {
    private final CUevent event = new CUevent();
    private boolean closed;

    public CudaEvent() {
        // CU_EVENT_DEFAULT (0): timing enabled
        this(0);
    }

    private CudaEvent(int flags) {
        check("cuEventCreate", JCudaDriver.cuEventCreate(event, flags));
    }

    /** An event only for ordering streams (CU_EVENT_DISABLE_TIMING: cheaper to record and wait on). */
    public static CudaEvent forOrdering() { return new CudaEvent(0x2); }

    CUevent handle() { return event; }

    public CudaEvent record(CudaStream stream) {
        check("cuEventRecord", JCudaDriver.cuEventRecord(event, stream.handle()));
        return this;
    }

    public void synchronize() { check("cuEventSynchronize", JCudaDriver.cuEventSynchronize(event)); }

    /** Milliseconds from {@code start} to this event; both must have been recorded and this one reached. */
    public float elapsedSince(CudaEvent start) {
        synchronize();
        float[] ms = new float[1];
        check("cuEventElapsedTime", JCudaDriver.cuEventElapsedTime(ms, start.event, event));
        return ms[0];
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        check("cuEventDestroy", JCudaDriver.cuEventDestroy(event));
    }
}

package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import jcuda.driver.CUcontext;
import jcuda.driver.JCudaDriver;

/**
 * The device's primary context, made current on the creating thread. The primary context is the
 * one the CUDA runtime uses, so cuBLAS and cuDNN (which go through the runtime) see the same
 * memory and streams as the driver calls made here. Call {@link #bind()} on any other thread
 * before using device objects there.
 */
public final class CudaContext implements AutoCloseable {
    private final CudaDevice device;
    private final CUcontext context = new CUcontext();
    private boolean closed;

    private CudaContext(CudaDevice device) {
        this.device = device;
        check("cuDevicePrimaryCtxRetain", JCudaDriver.cuDevicePrimaryCtxRetain(context, device.handle()));
        bind();
    }

    /** Retains device {@code ordinal}'s primary context and makes it current. */
    public static CudaContext create(int ordinal) { return new CudaContext(CudaDevice.get(ordinal)); }

    public CudaDevice device() { return device; }

    /** Makes this context current on the calling thread. */
    public void bind() { check("cuCtxSetCurrent", JCudaDriver.cuCtxSetCurrent(context)); }

    /** Waits for all work in the context. */
    public void synchronize() { check("cuCtxSynchronize", JCudaDriver.cuCtxSynchronize()); }

    /** Free and total device memory in bytes. */
    public long[] memoryInfo() {
        long[] free = new long[1], total = new long[1];
        check("cuMemGetInfo", JCudaDriver.cuMemGetInfo(free, total));
        return new long[] {free[0], total[0]};
    }

    public DeviceBuffer allocate(long bytes) { return DeviceBuffer.allocate(bytes); }

    @Override public void close() {
        if (closed) return;
        closed = true;
        check("cuDevicePrimaryCtxRelease", JCudaDriver.cuDevicePrimaryCtxRelease(device.handle()));
    }
}

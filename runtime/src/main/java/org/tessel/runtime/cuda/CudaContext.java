package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import jcuda.driver.CUcontext;
import jcuda.driver.JCudaDriver;

/**
 * The device's primary context, made current on the creating thread. The primary context is the
 * one the CUDA runtime uses, so cuBLAS and cuDNN (which go through the runtime) see the same
 * memory and streams as the driver calls made here. Call {@link #bind()} on any other thread
 * before using device objects there.
 *
 * <p>{@link #emulated()} makes the emulated device's context instead: device memory is host
 * memory, streams run their work at once, and kernels (compiled by g++, see {@link
 * CudaModule#loadEmulated}) run on CPU threads. It is a check of kernel logic and launch
 * arguments, never of speed, and never chosen by backend detection. Buffers, streams, events and
 * modules follow the calling thread's current context, as CUDA objects do: the one last
 * {@link #bind() bound} there, or, on a thread that never bound one, an open emulated context.
 */
public final class CudaContext implements AutoCloseable {
    /** Default memory cap of the emulated device. */
    public static final long DEFAULT_EMULATED_MEMORY = 4L << 30;

    private static final ThreadLocal<CudaContext> CURRENT = new ThreadLocal<>();
    /** The emulated context open most recently (current on threads that bound nothing). */
    private static volatile CudaContext openEmulated;

    private final CudaDevice device;
    private final CUcontext context;
    private boolean closed;

    private CudaContext(CudaDevice device) {
        this.device = device;
        if (device.isEmulated()) {
            this.context = null;
            openEmulated = this;
        } else {
            this.context = new CUcontext();
            check("cuDevicePrimaryCtxRetain", JCudaDriver.cuDevicePrimaryCtxRetain(context, device.handle()));
        }
        bind();
    }

    /** Retains device {@code ordinal}'s primary context and makes it current. */
    public static CudaContext create(int ordinal) { return new CudaContext(CudaDevice.get(ordinal)); }

    /** The emulated device's context (one thread per CPU core, {@link #DEFAULT_EMULATED_MEMORY}), current on this thread. */
    public static CudaContext emulated() { return emulated(Runtime.getRuntime().availableProcessors(), DEFAULT_EMULATED_MEMORY); }

    /** The emulated device's context with {@code threads} CPU threads and {@code memoryBytes} of memory, current on this thread. */
    public static CudaContext emulated(int threads, long memoryBytes) { return new CudaContext(CudaDevice.emulated(threads, memoryBytes)); }

    public CudaDevice device() { return device; }

    /** True for the emulated device's context. */
    public boolean isEmulated() { return device.isEmulated(); }

    /** Makes this context current on the calling thread. */
    public void bind() {
        if (closed) throw new CudaException("the context of " + device.name() + " is bound after close");
        if (!isEmulated()) check("cuCtxSetCurrent", JCudaDriver.cuCtxSetCurrent(context));
        CURRENT.set(this);
    }

    /** The emulated device when it is the calling thread's current context, else null (a CUDA context, or none). */
    static CudaDevice emulatedDevice() {
        CudaContext c = CURRENT.get();
        if (c == null || c.closed) c = openEmulated;
        return c != null && !c.closed && c.isEmulated() ? c.device : null;
    }

    /** Waits for all work in the context (the emulated device's work is done when it is issued). */
    public void synchronize() { if (!isEmulated()) check("cuCtxSynchronize", JCudaDriver.cuCtxSynchronize()); }

    /** Free and total device memory in bytes. */
    public long[] memoryInfo() {
        if (isEmulated()) return new long[] {device.totalMemory() - device.allocatedBytes(), device.totalMemory()};
        long[] free = new long[1], total = new long[1];
        check("cuMemGetInfo", JCudaDriver.cuMemGetInfo(free, total));
        return new long[] {free[0], total[0]};
    }

    public DeviceBuffer allocate(long bytes) { return DeviceBuffer.allocate(bytes); }

    @Override public void close() {
        if (closed) return;
        closed = true;
        if (CURRENT.get() == this) CURRENT.remove();
        if (isEmulated()) {
            if (openEmulated == this) openEmulated = null;
            return;
        }
        check("cuDevicePrimaryCtxRelease", JCudaDriver.cuDevicePrimaryCtxRelease(device.handle()));
    }

    @Override public String toString() { return "CudaContext(" + device + ")"; }
}

package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import java.util.concurrent.atomic.AtomicLong;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;

/**
 * One CUDA device as the driver reports it: name, multiprocessor count, compute capability and
 * memory. {@link #get(int)} initializes the driver on first use. {@link #emulated} is the
 * emulated device instead: host memory and kernels compiled by g++ run on CPU threads (see
 * {@link CudaContext#emulated()}); it reports compute capability 9.0 and an H100's 132
 * multiprocessors, so kernels plan their launches as on an H100, and a memory cap.
 */
public final class CudaDevice {
    private static volatile boolean initialized;

    private final int ordinal;
    private final CUdevice handle;
    private final String name;
    private final int smCount, major, minor;
    private final long totalMemory;
    /** CPU threads that run an emulated device's kernels; 0 for a CUDA device. */
    private final int emulatorThreads;
    /** Bytes an emulated device has handed out (its cap is {@link #totalMemory}). */
    private final AtomicLong allocated = new AtomicLong();

    private CudaDevice(int ordinal) {
        this.ordinal = ordinal;
        this.handle = new CUdevice();
        this.emulatorThreads = 0;
        check("cuDeviceGet(" + ordinal + ")", JCudaDriver.cuDeviceGet(handle, ordinal));
        byte[] buf = new byte[256];
        check("cuDeviceGetName", JCudaDriver.cuDeviceGetName(buf, buf.length, handle));
        int len = 0;
        while (len < buf.length && buf[len] != 0) len++;
        this.name = new String(buf, 0, len, java.nio.charset.StandardCharsets.US_ASCII);
        this.smCount = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "MULTIPROCESSOR_COUNT");
        this.major = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, "COMPUTE_CAPABILITY_MAJOR");
        this.minor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, "COMPUTE_CAPABILITY_MINOR");
        long[] mem = new long[1];
        check("cuDeviceTotalMem", JCudaDriver.cuDeviceTotalMem(mem, handle));
        this.totalMemory = mem[0];
    }

    private CudaDevice(int threads, long memoryBytes) {
        this.ordinal = 0;
        this.handle = null;
        this.emulatorThreads = threads;
        this.name = "emulated sm_90 on the CPU (" + threads + " thread" + (threads == 1 ? "" : "s") + ")";
        this.smCount = 132;
        this.major = 9;
        this.minor = 0;
        this.totalMemory = memoryBytes;
    }

    /** The emulated device: kernels run on {@code threads} CPU threads, allocations are capped at {@code memoryBytes}. */
    public static CudaDevice emulated(int threads, long memoryBytes) {
        if (threads < 1) throw new IllegalArgumentException("the emulated device needs at least one thread, got " + threads);
        if (memoryBytes < 1) throw new IllegalArgumentException("the emulated device needs a positive memory size, got " + memoryBytes);
        return new CudaDevice(threads, memoryBytes);
    }

    /** Initializes the driver once (cuInit); JCuda's own exceptions stay off, results are checked here. */
    static synchronized void initDriver() {
        if (initialized) return;
        JCudaDriver.setExceptionsEnabled(false);
        check("cuInit", JCudaDriver.cuInit(0));
        initialized = true;
    }

    /** Number of CUDA devices (initializes the driver). */
    public static int count() {
        initDriver();
        int[] n = new int[1];
        check("cuDeviceGetCount", JCudaDriver.cuDeviceGetCount(n));
        return n[0];
    }

    public static CudaDevice get(int ordinal) {
        int n = count();
        if (ordinal < 0 || ordinal >= n) throw new CudaException("no CUDA device " + ordinal + ": the driver reports " + n);
        return new CudaDevice(ordinal);
    }

    /**
     * The CUDA driver's version as major * 1000 + minor * 10 (13000 for CUDA 13.0); 0 when the
     * calling thread's context is the emulated device's (there is no driver).
     */
    public static int driverVersion() {
        if (CudaContext.emulatedDevice() != null) return 0;
        initDriver();
        int[] v = new int[1];
        check("cuDriverGetVersion", JCudaDriver.cuDriverGetVersion(v));
        return v[0];
    }

    public int attribute(int attr, String attrName) {
        if (isEmulated()) throw new CudaException("cuDeviceGetAttribute(" + attrName + ") is not available on the " + name);
        int[] v = new int[1];
        check("cuDeviceGetAttribute(" + attrName + ")", JCudaDriver.cuDeviceGetAttribute(v, attr, handle));
        return v[0];
    }

    public int ordinal() { return ordinal; }
    public String name() { return name; }
    public int smCount() { return smCount; }
    public int computeMajor() { return major; }
    public int computeMinor() { return minor; }
    public long totalMemory() { return totalMemory; }

    /** True for the emulated device (host memory, kernels on CPU threads), false for a CUDA GPU. */
    public boolean isEmulated() { return emulatorThreads > 0; }

    /** CPU threads an emulated device runs kernels on; 0 for a CUDA GPU. */
    public int emulatorThreads() { return emulatorThreads; }

    /** The virtual architecture NVRTC should target, e.g. "compute_90". */
    public String computeArch() { return "compute_" + major + minor; }

    CUdevice handle() { return handle; }

    /** Takes {@code bytes} of an emulated device's memory, failing as cuMemAlloc does when the cap is reached. */
    void reserve(long bytes) {
        long now = allocated.addAndGet(bytes);
        if (now > totalMemory) {
            allocated.addAndGet(-bytes);
            throw new CudaException("cuMemAlloc(" + bytes + " bytes) on the " + name + ", " + (now - bytes) + " of " + totalMemory + " bytes in use",
                    jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY);
        }
    }

    void release(long bytes) { allocated.addAndGet(-bytes); }

    /** Bytes of an emulated device's memory in use. */
    long allocatedBytes() { return allocated.get(); }

    @Override public String toString() {
        if (isEmulated()) return name + " (not a GPU: compute capability 9.0 and 132 SMs as an H100, " + (totalMemory >> 20) + " MiB of host memory)";
        return name + " (sm_" + major + minor + ", " + smCount + " SMs, " + (totalMemory >> 20) + " MiB)";
    }
}

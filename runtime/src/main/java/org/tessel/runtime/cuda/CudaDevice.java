package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;

/**
 * One CUDA device as the driver reports it: name, multiprocessor count, compute capability and
 * memory. {@link #get(int)} initializes the driver on first use.
 */
public final class CudaDevice {
    private static volatile boolean initialized;

    private final int ordinal;
    private final CUdevice handle;
    private final String name;
    private final int smCount, major, minor;
    private final long totalMemory;

    private CudaDevice(int ordinal) {
        this.ordinal = ordinal;
        this.handle = new CUdevice();
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

    /** The CUDA driver's version as major * 1000 + minor * 10 (13000 for CUDA 13.0). */
    public static int driverVersion() {
        initDriver();
        int[] v = new int[1];
        check("cuDriverGetVersion", JCudaDriver.cuDriverGetVersion(v));
        return v[0];
    }

    public int attribute(int attr, String attrName) {
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

    /** The virtual architecture NVRTC should target, e.g. "compute_90". */
    public String computeArch() { return "compute_" + major + minor; }

    CUdevice handle() { return handle; }

    @Override public String toString() {
        return name + " (sm_" + major + minor + ", " + smCount + " SMs, " + (totalMemory >> 20) + " MiB)";
    }
}

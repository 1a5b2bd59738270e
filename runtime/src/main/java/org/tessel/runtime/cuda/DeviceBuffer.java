package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * A block of device memory (cuMemAlloc), or a view into one ({@link #slice}). Copies to and from
 * Java arrays of float, short (f16/bf16 bits) and byte, synchronous or on a stream. Closing an
 * owning buffer frees it; closing a view does nothing.
 */
public final class DeviceBuffer implements AutoCloseable {
    private final DevicePointer ptr;
    private final long bytes;
    private final boolean owner;
    private boolean freed;

    private DeviceBuffer(DevicePointer ptr, long bytes, boolean owner) {
        this.ptr = ptr;
        this.bytes = bytes;
        this.owner = owner;
    }

    /** Allocates {@code bytes} of device memory in the current context (at least one byte is allocated). */
    public static DeviceBuffer allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        DevicePointer p = new DevicePointer();
        check("cuMemAlloc(" + bytes + " bytes)", JCudaDriver.cuMemAlloc(p, Math.max(1, bytes)));
        return new DeviceBuffer(p, bytes, true);
    }

    public static DeviceBuffer ofFloats(float[] data) {
        DeviceBuffer b = allocate(4L * data.length);
        b.copyFrom(data);
        return b;
    }

    public static DeviceBuffer ofShorts(short[] data) {
        DeviceBuffer b = allocate(2L * data.length);
        b.copyFrom(data);
        return b;
    }

    public static DeviceBuffer ofBytes(byte[] data) {
        DeviceBuffer b = allocate(data.length);
        b.copyFrom(data);
        return b;
    }

    /** Size in bytes. */
    public long bytes() { return bytes; }

    /** The raw device address, for libraries called through java.lang.foreign. */
    public long address() { alive(); return ptr.address(); }

    /** The JCuda pointer, for driver calls and kernel arguments. */
    public CUdeviceptr pointer() { alive(); return ptr; }

    /** A view of {@code length} bytes starting at {@code offset}; it shares this buffer's memory. */
    public DeviceBuffer slice(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > bytes)
            throw new IndexOutOfBoundsException("slice [" + offset + ", " + (offset + length) + ") of a " + bytes + "-byte buffer");
        return new DeviceBuffer(ptr.offset(offset), length, false);
    }

    private void alive() { if (freed) throw new IllegalStateException("device buffer of " + bytes + " bytes used after close"); }

    private void fits(long n, String what) {
        if (n > bytes) throw new IllegalArgumentException(what + " of " + n + " bytes does not fit a " + bytes + "-byte device buffer");
    }

    public void copyFrom(float[] src) { fits(4L * src.length, "copy"); check("cuMemcpyHtoD", JCudaDriver.cuMemcpyHtoD(pointer(), Pointer.to(src), 4L * src.length)); }
    public void copyFrom(short[] src) { fits(2L * src.length, "copy"); check("cuMemcpyHtoD", JCudaDriver.cuMemcpyHtoD(pointer(), Pointer.to(src), 2L * src.length)); }
    public void copyFrom(byte[] src) { fits(src.length, "copy"); check("cuMemcpyHtoD", JCudaDriver.cuMemcpyHtoD(pointer(), Pointer.to(src), src.length)); }
    public void copyFrom(int[] src) { fits(4L * src.length, "copy"); check("cuMemcpyHtoD", JCudaDriver.cuMemcpyHtoD(pointer(), Pointer.to(src), 4L * src.length)); }

    public void copyTo(float[] dst) { fits(4L * dst.length, "copy"); check("cuMemcpyDtoH", JCudaDriver.cuMemcpyDtoH(Pointer.to(dst), pointer(), 4L * dst.length)); }
    public void copyTo(short[] dst) { fits(2L * dst.length, "copy"); check("cuMemcpyDtoH", JCudaDriver.cuMemcpyDtoH(Pointer.to(dst), pointer(), 2L * dst.length)); }
    public void copyTo(byte[] dst) { fits(dst.length, "copy"); check("cuMemcpyDtoH", JCudaDriver.cuMemcpyDtoH(Pointer.to(dst), pointer(), dst.length)); }
    public void copyTo(int[] dst) { fits(4L * dst.length, "copy"); check("cuMemcpyDtoH", JCudaDriver.cuMemcpyDtoH(Pointer.to(dst), pointer(), 4L * dst.length)); }

    /** Asynchronous upload on a stream; the array must stay unchanged until the stream reaches this copy. */
    public void copyFromAsync(float[] src, CudaStream stream) {
        fits(4L * src.length, "copy");
        check("cuMemcpyHtoDAsync", JCudaDriver.cuMemcpyHtoDAsync(pointer(), Pointer.to(src), 4L * src.length, stream.handle()));
    }

    public void copyToAsync(float[] dst, CudaStream stream) {
        fits(4L * dst.length, "copy");
        check("cuMemcpyDtoHAsync", JCudaDriver.cuMemcpyDtoHAsync(Pointer.to(dst), pointer(), 4L * dst.length, stream.handle()));
    }

    /** Copies all of {@code src} (device to device) to the start of this buffer. */
    public void copyFrom(DeviceBuffer src) {
        fits(src.bytes, "copy");
        check("cuMemcpyDtoD", JCudaDriver.cuMemcpyDtoD(pointer(), src.pointer(), src.bytes));
    }

    /** Copies all of {@code src} (device to device) to the start of this buffer, ordered on {@code stream}. */
    public void copyFromAsync(DeviceBuffer src, CudaStream stream) {
        fits(src.bytes, "copy");
        check("cuMemcpyDtoDAsync", JCudaDriver.cuMemcpyDtoDAsync(pointer(), src.pointer(), src.bytes, stream.handle()));
    }

    /** Sets every byte to {@code value}. */
    public void fill(byte value) { check("cuMemsetD8", JCudaDriver.cuMemsetD8(pointer(), value, bytes)); }

    /** Sets every 32-bit word to {@code bits} (e.g. a NaN pattern to poison an output before a check). */
    public void fill32(int bits) {
        if (bytes % 4 != 0) throw new IllegalArgumentException("fill32 needs a size divisible by 4, buffer has " + bytes + " bytes");
        check("cuMemsetD32", JCudaDriver.cuMemsetD32(pointer(), bits, bytes / 4));
    }

    @Override public void close() {
        if (freed) return;
        freed = true;
        if (owner) check("cuMemFree", JCudaDriver.cuMemFree(ptr));
    }

    @Override public String toString() { return "DeviceBuffer(" + bytes + " bytes" + (owner ? "" : ", view") + ")"; }
}

package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * A block of device memory (cuMemAlloc), or a view into one ({@link #slice}). Copies to and from
 * Java arrays of float, short (f16/bf16 bits) and byte, synchronous or on a stream. Closing an
 * owning buffer frees it; closing a view does nothing. On the emulated device the memory is host
 * memory (256-byte aligned, poisoned with all-ones bytes, NaN in every float type, as fresh
 * device memory holds nothing defined) and {@link #address()} is its real address.
 */
public final class DeviceBuffer implements AutoCloseable {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    private final DevicePointer ptr;
    /** The emulated device's memory (null on a CUDA device), its arena (owning buffers only) and device. */
    private final MemorySegment host;
    private final Arena arena;
    private final CudaDevice emulator;
    private final long bytes;
    private final boolean owner;
    private boolean freed;

    private DeviceBuffer(DevicePointer ptr, long bytes, boolean owner) {
        this.ptr = ptr;
        this.host = null;
        this.arena = null;
        this.emulator = null;
        this.bytes = bytes;
        this.owner = owner;
    }

    private DeviceBuffer(MemorySegment host, Arena arena, CudaDevice emulator, long bytes, boolean owner) {
        this.ptr = null;
        this.host = host;
        this.arena = arena;
        this.emulator = emulator;
        this.bytes = bytes;
        this.owner = owner;
    }

    /** Allocates {@code bytes} of device memory in the current context (at least one byte is allocated). */
    public static DeviceBuffer allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        CudaDevice emulator = CudaContext.emulatedDevice();
        if (emulator != null) {
            long size = Math.max(1, bytes);
            emulator.reserve(size);
            Arena arena = Arena.ofShared();
            MemorySegment m = arena.allocate(size, 256);
            m.fill((byte) 0xFF);
            return new DeviceBuffer(m, arena, emulator, bytes, true);
        }
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

    /** True when this is the emulated device's (host) memory. */
    public boolean isEmulated() { return host != null; }

    /** The raw device address, for libraries called through java.lang.foreign (on the emulated device, a host address). */
    public long address() { alive(); return host != null ? host.address() : ptr.address(); }

    /** The JCuda pointer, for driver calls and kernel arguments (a CUDA device's buffers only). */
    public CUdeviceptr pointer() {
        alive();
        if (host != null) throw new CudaException("a buffer of the emulated device has no JCuda pointer; use address()");
        return ptr;
    }

    /** A view of {@code length} bytes starting at {@code offset}; it shares this buffer's memory. */
    public DeviceBuffer slice(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > bytes)
            throw new IndexOutOfBoundsException("slice [" + offset + ", " + (offset + length) + ") of a " + bytes + "-byte buffer");
        if (host != null) return new DeviceBuffer(host.asSlice(offset, length), null, emulator, length, false);
        return new DeviceBuffer(ptr.offset(offset), length, false);
    }

    private void alive() { if (freed) throw new IllegalStateException("device buffer of " + bytes + " bytes used after close"); }

    private void fits(long n, String what) {
        if (n > bytes) throw new IllegalArgumentException(what + " of " + n + " bytes does not fit a " + bytes + "-byte device buffer");
    }

    /** This buffer's host memory, checked alive. */
    private MemorySegment host() { alive(); return host; }

    public void copyFrom(float[] src) {
        fits(4L * src.length, "copy");
        if (host != null) MemorySegment.copy(src, 0, host(), F32, 0, src.length);
        else check("cuMemcpyHtoD", JCudaDriver.cuMemcpyHtoD(pointer(), Pointer.to(src), 4L * src.length));
    }

    public void copyFrom(short[] src) {
        fits(2L * src.length, "copy");
        if (host != null) MemorySegment.copy(src, 0, host(), I16, 0, src.length);
        else check("cuMemcpyHtoD", JCudaDriver.cuMemcpyHtoD(pointer(), Pointer.to(src), 2L * src.length));
    }

    public void copyFrom(byte[] src) {
        fits(src.length, "copy");
        if (host != null) MemorySegment.copy(src, 0, host(), I8, 0, src.length);
        else check("cuMemcpyHtoD", JCudaDriver.cuMemcpyHtoD(pointer(), Pointer.to(src), src.length));
    }

    public void copyFrom(int[] src) {
        fits(4L * src.length, "copy");
        if (host != null) MemorySegment.copy(src, 0, host(), I32, 0, src.length);
        else check("cuMemcpyHtoD", JCudaDriver.cuMemcpyHtoD(pointer(), Pointer.to(src), 4L * src.length));
    }

    public void copyTo(float[] dst) {
        fits(4L * dst.length, "copy");
        if (host != null) MemorySegment.copy(host(), F32, 0, dst, 0, dst.length);
        else check("cuMemcpyDtoH", JCudaDriver.cuMemcpyDtoH(Pointer.to(dst), pointer(), 4L * dst.length));
    }

    public void copyTo(short[] dst) {
        fits(2L * dst.length, "copy");
        if (host != null) MemorySegment.copy(host(), I16, 0, dst, 0, dst.length);
        else check("cuMemcpyDtoH", JCudaDriver.cuMemcpyDtoH(Pointer.to(dst), pointer(), 2L * dst.length));
    }

    public void copyTo(byte[] dst) {
        fits(dst.length, "copy");
        if (host != null) MemorySegment.copy(host(), I8, 0, dst, 0, dst.length);
        else check("cuMemcpyDtoH", JCudaDriver.cuMemcpyDtoH(Pointer.to(dst), pointer(), dst.length));
    }

    public void copyTo(int[] dst) {
        fits(4L * dst.length, "copy");
        if (host != null) MemorySegment.copy(host(), I32, 0, dst, 0, dst.length);
        else check("cuMemcpyDtoH", JCudaDriver.cuMemcpyDtoH(Pointer.to(dst), pointer(), 4L * dst.length));
    }

    /** Asynchronous upload on a stream; the array must stay unchanged until the stream reaches this copy. */
    public void copyFromAsync(float[] src, CudaStream stream) {
        fits(4L * src.length, "copy");
        if (host != null) stream.emulate(() -> MemorySegment.copy(src, 0, host(), F32, 0, src.length));
        else check("cuMemcpyHtoDAsync", JCudaDriver.cuMemcpyHtoDAsync(pointer(), Pointer.to(src), 4L * src.length, stream.handle()));
    }

    public void copyToAsync(float[] dst, CudaStream stream) {
        fits(4L * dst.length, "copy");
        if (host != null) stream.emulate(() -> MemorySegment.copy(host(), F32, 0, dst, 0, dst.length));
        else check("cuMemcpyDtoHAsync", JCudaDriver.cuMemcpyDtoHAsync(Pointer.to(dst), pointer(), 4L * dst.length, stream.handle()));
    }

    /** Copies all of {@code src} (device to device) to the start of this buffer. */
    public void copyFrom(DeviceBuffer src) {
        fits(src.bytes, "copy");
        if (sameDevice(src)) MemorySegment.copy(src.host(), 0, host(), 0, src.bytes);
        else check("cuMemcpyDtoD", JCudaDriver.cuMemcpyDtoD(pointer(), src.pointer(), src.bytes));
    }

    /** Copies all of {@code src} (device to device) to the start of this buffer, ordered on {@code stream}. */
    public void copyFromAsync(DeviceBuffer src, CudaStream stream) {
        fits(src.bytes, "copy");
        if (sameDevice(src)) stream.emulate(() -> MemorySegment.copy(src.host(), 0, host(), 0, src.bytes));
        else check("cuMemcpyDtoDAsync", JCudaDriver.cuMemcpyDtoDAsync(pointer(), src.pointer(), src.bytes, stream.handle()));
    }

    /** Copies this buffer (all of it) into pinned host memory at {@code offset}, ordered on {@code stream} (asynchronous on a GPU). */
    public void copyToHostAsync(PinnedHostBuffer dst, long offset, CudaStream stream) {
        if (host != null) {
            if (!dst.emulated()) throw new CudaException("cannot copy between the emulated device and a CUDA device's pinned memory");
            MemorySegment to = dst.segment(offset, bytes);
            stream.emulate(() -> MemorySegment.copy(host(), 0, to, 0, bytes));
        } else {
            if (dst.emulated()) throw new CudaException("cannot copy between a CUDA device and the emulated device's host memory");
            check("cuMemcpyDtoHAsync", JCudaDriver.cuMemcpyDtoHAsync(dst.pointer(offset, bytes), pointer(), bytes, stream.handle()));
        }
    }

    /** Fills this buffer (all of it) from pinned host memory at {@code offset}, ordered on {@code stream} (asynchronous on a GPU). */
    public void copyFromHostAsync(PinnedHostBuffer src, long offset, CudaStream stream) {
        if (host != null) {
            if (!src.emulated()) throw new CudaException("cannot copy between the emulated device and a CUDA device's pinned memory");
            MemorySegment from = src.segment(offset, bytes);
            stream.emulate(() -> MemorySegment.copy(from, 0, host(), 0, bytes));
        } else {
            if (src.emulated()) throw new CudaException("cannot copy between a CUDA device and the emulated device's host memory");
            check("cuMemcpyHtoDAsync", JCudaDriver.cuMemcpyHtoDAsync(pointer(), src.pointer(offset, bytes), bytes, stream.handle()));
        }
    }

    /** True when both buffers are the emulated device's; a copy between the emulated device and a GPU is refused. */
    private boolean sameDevice(DeviceBuffer src) {
        if ((host == null) != (src.host == null)) throw new CudaException("cannot copy between the emulated device and a CUDA device");
        return host != null;
    }

    /** Sets every byte to {@code value}. */
    public void fill(byte value) {
        if (host != null) host().asSlice(0, bytes).fill(value);
        else check("cuMemsetD8", JCudaDriver.cuMemsetD8(pointer(), value, bytes));
    }

    /** Sets every 32-bit word to {@code bits} (e.g. a NaN pattern to poison an output before a check). */
    public void fill32(int bits) {
        if (bytes % 4 != 0) throw new IllegalArgumentException("fill32 needs a size divisible by 4, buffer has " + bytes + " bytes");
        if (host == null) {
            check("cuMemsetD32", JCudaDriver.cuMemsetD32(pointer(), bits, bytes / 4));
            return;
        }
        MemorySegment m = host();
        for (long i = 0; i < bytes / 4; i++) m.setAtIndex(I32, i, bits);
    }

    @Override public void close() {
        if (freed) return;
        freed = true;
        if (!owner) return;
        if (host != null) {
            arena.close();
            emulator.release(Math.max(1, bytes));
        } else {
            check("cuMemFree", JCudaDriver.cuMemFree(ptr));
        }
    }

    @Override public String toString() { return "DeviceBuffer(" + bytes + " bytes" + (owner ? "" : ", view") + (host != null ? ", emulated" : "") + ")"; }
}

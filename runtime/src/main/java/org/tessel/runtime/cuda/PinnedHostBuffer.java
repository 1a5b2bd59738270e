package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * Page-locked host memory (cuMemAllocHost), which the GPU's copy engines read and write directly, so copies between
 * it and device memory can run asynchronously on a stream, overlapped with kernels on others
 * ({@link DeviceBuffer#copyToHostAsync}, {@link DeviceBuffer#copyFromHostAsync}). On the emulated device it is plain
 * host memory and the copies run when their stream reaches them. Closing frees it.
 */
public final class PinnedHostBuffer implements AutoCloseable {
    private final Pointer pinned;
    /** The emulated device's memory (null on a CUDA device). */
    private final MemorySegment host;
    private final Arena arena;
    private final long bytes;
    private boolean freed;

    private PinnedHostBuffer(Pointer pinned, MemorySegment host, Arena arena, long bytes) {
        this.pinned = pinned;
        this.host = host;
        this.arena = arena;
        this.bytes = bytes;
    }

    /** Allocates {@code bytes} of page-locked host memory for the current context (at least one byte). */
    public static PinnedHostBuffer allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("cannot allocate " + bytes + " bytes of pinned host memory");
        if (CudaContext.emulatedDevice() != null) {
            Arena arena = Arena.ofShared();
            return new PinnedHostBuffer(null, arena.allocate(Math.max(1, bytes), 256), arena, bytes);
        }
        Pointer p = new Pointer();
        check("cuMemAllocHost(" + bytes + " bytes)", JCudaDriver.cuMemAllocHost(p, Math.max(1, bytes)));
        return new PinnedHostBuffer(p, null, null, bytes);
    }

    public long bytes() { return bytes; }

    boolean emulated() { return host != null; }

    /**
     * Bytes [offset, offset + length) as a memory segment, the one way reads and writes reach the memory on both devices.
     * On a GPU it is the slice JCuda's {@code getByteBuffer(offset, length)} gives: that method slices the allocation from
     * its start and ignores a pointer's byte offset, so {@code withByteOffset(o).getByteBuffer(0, n)} was the first n bytes
     * (on the H100 every staged input but the first was written over the first, and every staged output read from the first's bytes).
     */
    MemorySegment segment(long offset, long length) {
        alive(offset, length);
        return host != null ? host.asSlice(offset, length) : MemorySegment.ofBuffer(pinned.getByteBuffer(offset, length));
    }

    /** The pinned memory at {@code offset}, for the driver's copies (which honour a pointer's byte offset). */
    Pointer pointer(long offset, long length) {
        alive(offset, length);
        return pinned.withByteOffset(offset);
    }

    /** Copies {@code length} bytes at {@code offset} into {@code dst} (host to host, for tests and inspection). */
    public void read(long offset, byte[] dst) {
        MemorySegment.copy(segment(offset, dst.length), ValueLayout.JAVA_BYTE, 0, dst, 0, dst.length);
    }

    /** Writes {@code src} at {@code offset} (native byte order, as the device reads it). */
    public void write(long offset, int[] src) {
        MemorySegment.copy(src, 0, segment(offset, 4L * src.length), ValueLayout.JAVA_INT_UNALIGNED, 0, src.length);
    }

    /** Reads {@code dst.length} ints at {@code offset} (native byte order). */
    public void read(long offset, int[] dst) {
        MemorySegment.copy(segment(offset, 4L * dst.length), ValueLayout.JAVA_INT_UNALIGNED, 0, dst, 0, dst.length);
    }

    /** Reads {@code dst.length} 16-bit values at {@code offset} (native byte order). */
    public void read(long offset, short[] dst) {
        MemorySegment.copy(segment(offset, 2L * dst.length), ValueLayout.JAVA_SHORT_UNALIGNED, 0, dst, 0, dst.length);
    }

    /** Reads {@code dst.length} floats at {@code offset} (native byte order). */
    public void read(long offset, float[] dst) {
        MemorySegment.copy(segment(offset, 4L * dst.length), ValueLayout.JAVA_FLOAT_UNALIGNED, 0, dst, 0, dst.length);
    }

    private void alive(long offset, long length) {
        if (freed) throw new CudaException("pinned host buffer used after close");
        if (offset < 0 || length < 0 || offset + length > bytes)
            throw new IndexOutOfBoundsException("bytes [" + offset + ", " + (offset + length) + ") of a " + bytes + "-byte pinned host buffer");
    }

    @Override public void close() {
        if (freed) return;
        freed = true;
        if (host != null) arena.close();
        else check("cuMemFreeHost", JCudaDriver.cuMemFreeHost(pinned));
    }
}

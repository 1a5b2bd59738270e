package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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

    MemorySegment segment(long offset, long length) {
        alive(offset, length);
        return host.asSlice(offset, length);
    }

    /*
     * JCuda's Pointer.getByteBuffer(offset, size) slices the allocation's own buffer from its start: a pointer made by
     * withByteOffset keeps that buffer, so its getByteBuffer(0, n) is the allocation's first n bytes. Reads and writes
     * therefore pass the offset to getByteBuffer (on the H100 every staged input but the first was written over the
     * first, and every staged output read from the first's bytes); copies take withByteOffset, which the driver calls honour.
     */
    Pointer pointer(long offset, long length) {
        alive(offset, length);
        return pinned.withByteOffset(offset);
    }

    /** Copies {@code length} bytes at {@code offset} into {@code dst} (host to host, for tests and inspection). */
    public void read(long offset, byte[] dst) {
        alive(offset, dst.length);
        if (host != null) MemorySegment.copy(host, java.lang.foreign.ValueLayout.JAVA_BYTE, offset, dst, 0, dst.length);
        else pinned.getByteBuffer(offset, dst.length).get(dst);
    }

    /** Writes {@code src} at {@code offset} (native byte order, as the device reads it). */
    public void write(long offset, int[] src) {
        alive(offset, 4L * src.length);
        if (host != null) MemorySegment.copy(src, 0, host, java.lang.foreign.ValueLayout.JAVA_INT, offset, src.length);
        else pinned.getByteBuffer(offset, 4L * src.length).order(java.nio.ByteOrder.nativeOrder()).asIntBuffer().put(src);
    }

    /** Reads {@code dst.length} 16-bit values at {@code offset} (native byte order). */
    public void read(long offset, short[] dst) {
        alive(offset, 2L * dst.length);
        if (host != null) MemorySegment.copy(host, java.lang.foreign.ValueLayout.JAVA_SHORT, offset, dst, 0, dst.length);
        else pinned.getByteBuffer(offset, 2L * dst.length).order(java.nio.ByteOrder.nativeOrder()).asShortBuffer().get(dst);
    }

    /** Reads {@code dst.length} floats at {@code offset} (native byte order). */
    public void read(long offset, float[] dst) {
        alive(offset, 4L * dst.length);
        if (host != null) MemorySegment.copy(host, java.lang.foreign.ValueLayout.JAVA_FLOAT, offset, dst, 0, dst.length);
        else pinned.getByteBuffer(offset, 4L * dst.length).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer().get(dst);
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

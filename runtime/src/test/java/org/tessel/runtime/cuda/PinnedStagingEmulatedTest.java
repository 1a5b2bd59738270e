package org.tessel.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * Pinned staging at offsets, as an execution context stages its inputs and outputs: values written at several offsets stay
 * apart, go to the device from their own offsets and come back to others. On the emulated device here; {@link #check} is
 * also CudaDriverGpuTest's on a GPU, where reads and writes go through JCuda's buffer of the pinned allocation (its
 * getByteBuffer ignores a pointer's byte offset: offset writes once all landed on the first bytes).
 */
class PinnedStagingEmulatedTest {
    static void check() {
        try (PinnedHostBuffer p = PinnedHostBuffer.allocate(4096); DeviceBuffer a = DeviceBuffer.allocate(16); DeviceBuffer b = DeviceBuffer.allocate(16);
             CudaStream s = CudaStream.create()) {
            p.write(0, new int[] {1, 2, 3, 4});
            p.write(1024, new int[] {5, 6, 7, 8});
            a.copyFromHostAsync(p, 0, s);
            b.copyFromHostAsync(p, 1024, s);
            a.copyToHostAsync(p, 2048, s);
            b.copyToHostAsync(p, 3074, s); // 2 bytes past a 4-byte boundary: an f32 output after an odd count of f16 values
            s.synchronize();
            int[] got = new int[4];
            b.copyTo(got);
            assertArrayEquals(new int[] {5, 6, 7, 8}, got, "device copy of the staging at 1024");
            for (long[] at : new long[][] {{0, 1}, {1024, 5}, {2048, 1}, {3074, 5}}) {
                float[] f = new float[4];
                p.read(at[0], f);
                assertEquals(Float.intBitsToFloat((int) at[1]), f[0], "staging at " + at[0]);
                short[] h = new short[2];
                p.read(at[0], h);
                assertEquals((short) at[1], h[0], "16-bit read of the staging at " + at[0]);
            }
        }
    }

    @Test void pinnedStagingKeepsEveryOffsetApart() {
        try (CudaContext ctx = CudaContext.emulated(1, 1L << 20)) {
            check();
        }
    }
}

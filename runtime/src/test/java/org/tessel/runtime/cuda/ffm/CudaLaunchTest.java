package org.tessel.runtime.cuda.ffm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The launch config cuLaunchKernelEx reads, laid out as cuda.h's CUlaunchConfig and CUlaunchAttribute (64-bit). */
class CudaLaunchTest {
    @Test void theConfigIsLaidOutAsCudaHs() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = CudaLaunch.config(arena, new int[] {256, 3, 1}, new int[] {128, 1, 1}, 8192, 0x7f00_1234_5678L);
            assertEquals(56, c.byteSize());
            int[] want = {256, 3, 1, 128, 1, 1, 8192};
            for (int i = 0; i < want.length; i++) assertEquals(want[i], c.get(ValueLayout.JAVA_INT, 4L * i), "field " + i);
            assertEquals(0x7f00_1234_5678L, c.get(ValueLayout.JAVA_LONG, 32), "hStream at 32 (after 7 ints, aligned to 8)");
            assertEquals(1, c.get(ValueLayout.JAVA_INT, 48), "numAttrs at 48");
            MemorySegment attr = c.get(ValueLayout.ADDRESS, 40).reinterpret(CudaLaunch.ATTRIBUTE_BYTES);
            assertEquals(6, attr.get(ValueLayout.JAVA_INT, 0), "CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION");
            assertEquals(1, attr.get(ValueLayout.JAVA_INT, 8), "the value union starts at 8: programmaticStreamSerializationAllowed");
        }
    }
}

package org.tessel.runtime.llm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@link KvOffload} for the CPU runner's {@link PagedKvCache}: a host pool of {@code budgetBytes} (off-heap memory,
 * standing for the GPU runner's pinned memory) holding each offloaded block as every layer's K then V, in the cache's
 * storage (f32 or E4M3 codes), so a round trip is bit for bit. Copies are synchronous.
 */
public final class CpuKvOffload extends KvOffload {
    private final PagedKvCache cache;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment host;
    private final int blockElements;
    private final long layerBlockBytes;

    public CpuKvOffload(PagedKvCache cache, long budgetBytes) {
        super(cache.allocator(), blockBytes(cache), budgetBytes);
        this.cache = cache;
        this.blockElements = cache.kvHeads() * cache.blockSize() * cache.headDim();
        this.layerBlockBytes = (long) blockElements * (cache.format().quantized() ? 1 : 4);
        this.host = arena.allocate(hostBudgetBytes(), 16);
    }

    private static long blockBytes(PagedKvCache c) { return (long) c.kvHeads() * c.blockSize() * c.headDim() * (c.format().quantized() ? 1 : 4) * 2 * c.layers(); }

    @Override protected void copyOut(int block, long hostOffset) {
        for (int l = 0; l < cache.layers(); l++)
            for (int kv = 0; kv < 2; kv++) {
                long at = hostOffset + (2L * l + kv) * layerBlockBytes;
                int from = block * blockElements;
                if (cache.format().quantized()) MemorySegment.copy(kv == 0 ? cache.keyCodes(l) : cache.valueCodes(l), from, host, ValueLayout.JAVA_BYTE, at, blockElements);
                else MemorySegment.copy(kv == 0 ? cache.keys(l) : cache.values(l), from, host, ValueLayout.JAVA_FLOAT_UNALIGNED, at, blockElements);
            }
    }

    @Override protected void copyIn(long hostOffset, int block) {
        for (int l = 0; l < cache.layers(); l++)
            for (int kv = 0; kv < 2; kv++) {
                long at = hostOffset + (2L * l + kv) * layerBlockBytes;
                int to = block * blockElements;
                if (cache.format().quantized()) MemorySegment.copy(host, ValueLayout.JAVA_BYTE, at, kv == 0 ? cache.keyCodes(l) : cache.valueCodes(l), to, blockElements);
                else MemorySegment.copy(host, ValueLayout.JAVA_FLOAT_UNALIGNED, at, kv == 0 ? cache.keys(l) : cache.values(l), to, blockElements);
            }
    }

    @Override protected void finishOut() {}
    @Override protected void finishIn() {}

    @Override public void close() { arena.close(); }
}

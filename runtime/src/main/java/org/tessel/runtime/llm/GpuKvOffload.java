package org.tessel.runtime.llm;

import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.PinnedHostBuffer;

/**
 * {@link KvOffload} for {@link GpuPagedKvCache}: pinned host memory (cuMemAllocHost) of {@code budgetBytes}, and a
 * stream of its own for the copies. Offloading waits for its device-to-host copies before the blocks are freed (the
 * next step may write them); a prefetch's host-to-device copies run on the copy stream while the scheduler's next step
 * of other sequences runs on the engines' streams (the sequence joins the step after, once {@link #awaitPrefetch} has
 * seen the copies land). Each block moves as 2 x layers copies of one pool block (the pools are per layer).
 */
public final class GpuKvOffload extends KvOffload {
    private final GpuPagedKvCache cache;
    private final PinnedHostBuffer host;
    private final CudaStream stream;
    private final long layerBlockBytes;

    public GpuKvOffload(GpuPagedKvCache cache, long budgetBytes) {
        super(cache.allocator(), 2L * cache.layers() * cache.config().blockBytes(), budgetBytes);
        this.cache = cache;
        this.layerBlockBytes = cache.config().blockBytes();
        this.host = PinnedHostBuffer.allocate(hostBudgetBytes());
        CudaStream s;
        try {
            s = CudaStream.create();
        } catch (RuntimeException e) {
            host.close();
            throw e;
        }
        this.stream = s;
    }

    @Override protected void copyOut(int block, long hostOffset) {
        for (int l = 0; l < cache.layers(); l++) {
            cache.keys(l).slice(block * layerBlockBytes, layerBlockBytes).copyToHostAsync(host, hostOffset + 2L * l * layerBlockBytes, stream);
            cache.values(l).slice(block * layerBlockBytes, layerBlockBytes).copyToHostAsync(host, hostOffset + (2L * l + 1) * layerBlockBytes, stream);
        }
    }

    @Override protected void copyIn(long hostOffset, int block) {
        for (int l = 0; l < cache.layers(); l++) {
            cache.keys(l).slice(block * layerBlockBytes, layerBlockBytes).copyFromHostAsync(host, hostOffset + 2L * l * layerBlockBytes, stream);
            cache.values(l).slice(block * layerBlockBytes, layerBlockBytes).copyFromHostAsync(host, hostOffset + (2L * l + 1) * layerBlockBytes, stream);
        }
    }

    @Override protected void finishOut() { stream.synchronize(); }
    @Override protected void finishIn() { stream.synchronize(); }

    @Override public void close() {
        stream.close();
        host.close();
    }
}

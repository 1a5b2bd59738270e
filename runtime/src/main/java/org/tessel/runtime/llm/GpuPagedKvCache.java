package org.tessel.runtime.llm;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.ir.zoo.KvCacheFormat;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.PagedAttentionKernel;

/**
 * A paged KV cache on the GPU: per layer one K and one V device pool of {@code numBlocks} blocks,
 * laid out [block, kvHead, slot, headDim] in f16 or bf16 like {@link PagedKvCache}'s host arrays,
 * with the block bookkeeping in the same {@link KvBlockAllocator} (free list, block tables,
 * all-or-nothing reservation, truncation, utilisation) on the host.
 *
 * <p>A decode step: {@link #beginDecodeStep} reserves one slot per sequence, packs the block
 * tables, slots and context lengths (each sequence's stored tokens plus the new one) and uploads
 * them; then per layer {@link #append} writes the new token's K and V and {@link #attention} runs
 * {@code tessel.paged_attention} over the blocks in place; {@link #endDecodeStep} counts the new
 * tokens as stored. Not thread-safe: one scheduler owns it.
 *
 * <p>With an FP8 {@link KvCacheFormat} the pools hold E4M3 codes (half the bytes of f16) at the format's per-layer K
 * and V scales, which every append and attention launch of a layer passes.
 */
public final class GpuPagedKvCache implements KvCache {
    private final KernelCompiler kc;
    private final PagedAttentionKernel.Config config;
    private final int layers;
    private final KvCacheFormat format;
    private final KvBlockAllocator blocks;
    private final DeviceBuffer[] keys, values;
    private DeviceBuffer tables, lens, slots, workspace;
    private Step current;

    /** One decode step's host-side description (what was uploaded) and launch plan. */
    public record Step(List<String> sequences, int[] contextLens, int[] slots, int[] blockTables, int maxBlocks, PagedAttentionKernel.Plan plan) {
        public int batch() { return sequences.size(); }
    }

    public GpuPagedKvCache(KernelCompiler kc, DType dtype, int layers, int heads, int kvHeads, int headDim, int blockSize, int numBlocks) {
        this(kc, dtype, KvCacheFormat.NATIVE, layers, heads, kvHeads, headDim, blockSize, numBlocks);
    }

    /** A cache for q/out of type {@code dtype} whose pools hold {@code dtype}, or E4M3 codes when {@code format} is FP8. */
    public GpuPagedKvCache(KernelCompiler kc, DType dtype, KvCacheFormat format, int layers, int heads, int kvHeads, int headDim, int blockSize, int numBlocks) {
        if (layers < 1) throw new IllegalArgumentException("layers must be positive, got " + layers);
        format.checkLayers(layers, "a cache of " + layers + " layers");
        this.format = format;
        this.config = new PagedAttentionKernel.Config(dtype, format.quantized() ? format.dtype() : dtype, heads, kvHeads, headDim, blockSize, numBlocks);
        this.kc = kc;
        this.layers = layers;
        this.blocks = new KvBlockAllocator(blockSize, numBlocks);
        this.keys = new DeviceBuffer[layers];
        this.values = new DeviceBuffer[layers];
        try {
            for (int l = 0; l < layers; l++) {
                keys[l] = DeviceBuffer.allocate(config.poolBytes());
                values[l] = DeviceBuffer.allocate(config.poolBytes());
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    public PagedAttentionKernel.Config config() { return config; }
    /** How keys and values are stored (native f16/bf16, or FP8 with its per-layer scales). */
    public KvCacheFormat format() { return format; }
    public int layers() { return layers; }
    public KvBlockAllocator allocator() { return blocks; }
    public int blockSize() { return blocks.blockSize(); }
    public int numBlocks() { return blocks.numBlocks(); }
    public int freeBlocks() { return blocks.freeBlocks(); }
    public long liveTokens() { return blocks.liveTokens(); }
    public double utilisation() { return blocks.utilisation(); }
    public boolean canReserve(String seq, int extra) { return blocks.canReserve(seq, extra); }
    public void reserve(String seq, int extra) { blocks.reserve(seq, extra); }
    public boolean contains(String seq) { return blocks.contains(seq); }
    public int length(String seq) { return blocks.length(seq); }
    public List<Integer> blockTable(String seq) { return blocks.blockTable(seq); }
    public void truncate(String seq, int length) { blocks.truncate(seq, length); }
    public void free(String seq) { blocks.free(seq); }

    /** The layer's K pool [numBlocks, kvHeads, blockSize, headDim]. */
    public DeviceBuffer keys(int layer) { return keys[layer]; }
    public DeviceBuffer values(int layer) { return values[layer]; }

    /**
     * Starts a decode step of one new token per sequence: reserves its slot (all or nothing: when
     * the free blocks cannot hold every sequence's next token, {@link KvCacheExhaustedException}
     * names the first that does not fit and nothing is taken), then synchronizes {@code stream}
     * (an earlier step's kernels may still read the step buffers), uploads block tables, context
     * lengths (stored tokens + 1) and the new tokens' slots, and waits for the uploads.
     */
    public Step beginDecodeStep(List<String> seqs, CudaStream stream) {
        if (current != null) throw new IllegalStateException("a decode step of " + current.sequences() + " is still open; end it first");
        if (seqs.isEmpty()) throw new IllegalArgumentException("a decode step needs at least one sequence");
        if (seqs.stream().distinct().count() != seqs.size()) throw new IllegalArgumentException("a decode step lists a sequence twice: " + seqs);
        int need = 0;
        for (String seq : seqs) {
            need += blocks.blocksNeeded(seq, 1);
            if (need > blocks.freeBlocks())
                throw new KvCacheExhaustedException(seq, "sequence " + seq + " needs a KV block of " + blocks.blockSize() + " tokens for its next token, and the "
                        + blocks.freeBlocks() + " free of " + blocks.numBlocks() + " are taken by the step's other sequences");
        }
        for (String seq : seqs) blocks.reserve(seq, 1);
        int batch = seqs.size();
        int[] ctx = new int[batch], slot = new int[batch];
        List<List<Integer>> tablesOf = new ArrayList<>(batch);
        int maxContext = 0;
        for (int b = 0; b < batch; b++) {
            String seq = seqs.get(b);
            slot[b] = blocks.nextSlot(seq);
            ctx[b] = blocks.length(seq) + 1;
            maxContext = Math.max(maxContext, ctx[b]);
            tablesOf.add(blocks.blockTable(seq));
        }
        int maxBlocks = PagedAttentionKernel.maxBlocks(tablesOf);
        int[] packed = PagedAttentionKernel.packBlockTables(tablesOf, maxBlocks);
        PagedAttentionKernel.validate(config, ctx, packed, maxBlocks);
        PagedAttentionKernel.Plan plan = PagedAttentionKernel.plan(config, batch, maxContext, kc.context().device().smCount());
        stream.synchronize();
        tables = ensure(tables, 4L * packed.length);
        lens = ensure(lens, 4L * batch);
        slots = ensure(slots, 4L * batch);
        if (plan.split()) workspace = ensure(workspace, plan.workspaceBytes());
        tables.copyFrom(packed);
        lens.copyFrom(ctx);
        slots.copyFrom(slot);
        // the copies from pageable memory are ordered on the legacy stream, which a non-blocking stream does not wait for
        if (stream != CudaStream.DEFAULT) CudaStream.DEFAULT.synchronize();
        return current = new Step(List.copyOf(seqs), ctx, slot, packed, maxBlocks, plan);
    }

    /** Writes the step's new tokens' keys and values ([batch, kvHeads * headDim] rows, {@code ld} elements apart) into the layer's pools. */
    public void append(Step step, int layer, DeviceBuffer key, long ldk, DeviceBuffer value, long ldv, CudaStream s) {
        check(step, layer);
        PagedAttentionKernel.append(kc, config, step.batch(), key, ldk, value, ldv, slots, keys[layer], values[layer], keyScale(layer), valueScale(layer), s);
    }

    public void append(Step step, int layer, DeviceBuffer key, DeviceBuffer value, CudaStream s) {
        long row = (long) config.kvHeads() * config.headDim();
        append(step, layer, key, row, value, row, s);
    }

    /** Decode attention of the step's queries q [batch, heads, headDim] over the layer's blocks (new token included) into out. */
    public void attention(Step step, int layer, DeviceBuffer q, DeviceBuffer out, CudaStream s) {
        check(step, layer);
        PagedAttentionKernel.decode(kc, config, step.plan(), q, keys[layer], values[layer], keyScale(layer), valueScale(layer), tables, lens, step.maxBlocks(), out, workspace, s);
    }

    /** Counts the step's new tokens as stored (after every layer appended them). */
    public void endDecodeStep(Step step) {
        if (step != current) throw new IllegalStateException("the step ended is not the open one");
        for (String seq : step.sequences()) blocks.advance(seq, 1);
        current = null;
    }

    private float keyScale(int layer) { return format.quantized() ? format.keyScale(layer) : 1f; }
    private float valueScale(int layer) { return format.quantized() ? format.valueScale(layer) : 1f; }

    private void check(Step step, int layer) {
        if (step != current) throw new IllegalStateException("the step is not the open one (begin a step, use it, end it)");
        if (layer < 0 || layer >= layers) throw new IllegalArgumentException("layer " + layer + " of " + layers);
    }

    private static DeviceBuffer ensure(DeviceBuffer b, long bytes) {
        if (b != null && b.bytes() >= bytes) return b;
        if (b != null) b.close();
        return DeviceBuffer.allocate(Math.max(bytes, 256));
    }

    @Override public void close() {
        for (DeviceBuffer[] pool : new DeviceBuffer[][] {keys, values})
            for (int l = 0; l < pool.length; l++)
                if (pool[l] != null) { pool[l].close(); pool[l] = null; }
        for (DeviceBuffer b : new DeviceBuffer[] {tables, lens, slots, workspace})
            if (b != null) b.close();
        tables = lens = slots = workspace = null;
    }
}

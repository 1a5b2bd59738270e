package org.tessel.runtime.llm;

import java.util.List;
import org.tessel.api.Float8E4M3;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.zoo.KvCacheFormat;

/**
 * A paged KV cache (vLLM's PagedAttention memory, Kwon et al. 2023): the keys and values of every
 * layer live in a pool of fixed-size blocks of {@code blockSize} token slots, and each sequence has
 * a block table listing its blocks in order. Any free block serves any sequence, so memory does not
 * fragment: a sequence wastes at most the unfilled tail of its last block. Blocks come from a free
 * list and go back to it when their sequence is freed.
 *
 * <p>Storage per layer is one f32 array for K and one for V, laid out [block, kvHead, slot,
 * headDim], so a block's slots for one head are contiguous (what a GPU kernel reading a block per
 * thread block wants). When the pool cannot hold what a sequence asks for, {@link #reserve}
 * refuses with a {@link KvCacheExhaustedException} naming the sequence and leaves everything as it
 * was: other sequences are unaffected.
 *
 * <p>With an FP8 {@link KvCacheFormat} the pools are byte arrays of E4M3 codes instead (a quarter of f32's bytes,
 * half of f16's): {@link #append} stores {@code e4m3(x / scale)} at the layer's K or V scale and every read
 * ({@link #read}, {@link #gather}, {@link PagedAttention#decode}) gives {@code code * scale}, exactly what the GPU
 * kernels store and read.
 *
 * <p>Not thread-safe: one scheduler owns it.
 */
public final class PagedKvCache implements KvCache {
    private final int layers, kvHeads, headDim;
    private final KvBlockAllocator blocks;
    private final KvCacheFormat format;
    /** Native storage (null with FP8). */
    private final float[][] keys, values;
    /** FP8 storage: E4M3 codes (null when native). */
    private final byte[][] keyCodes, valueCodes;

    public PagedKvCache(int layers, int kvHeads, int headDim, int blockSize, int numBlocks) {
        this(layers, kvHeads, headDim, blockSize, numBlocks, KvCacheFormat.NATIVE);
    }

    /** A cache storing keys and values as {@code format} says (f32, or E4M3 codes at its per-layer scales). */
    public PagedKvCache(int layers, int kvHeads, int headDim, int blockSize, int numBlocks, KvCacheFormat format) {
        if (layers < 1 || kvHeads < 1 || headDim < 1) throw new IllegalArgumentException("layers, kvHeads and headDim must be positive, got " + layers + ", " + kvHeads + ", " + headDim);
        this.blocks = new KvBlockAllocator(blockSize, numBlocks);
        long floats = (long) numBlocks * blockSize * kvHeads * headDim;
        if (floats > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException(numBlocks + " blocks of " + blockSize + " tokens x " + kvHeads + " KV heads x " + headDim + " need " + floats + " floats per layer, more than one array holds");
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        format.checkLayers(layers, "a cache of " + layers + " layers");
        this.format = format;
        if (format.quantized()) {
            this.keys = this.values = null;
            this.keyCodes = new byte[layers][(int) floats];
            this.valueCodes = new byte[layers][(int) floats];
        } else {
            this.keys = new float[layers][(int) floats];
            this.values = new float[layers][(int) floats];
            this.keyCodes = this.valueCodes = null;
        }
    }

    /** How keys and values are stored (native f32, or FP8 with its scales). */
    public KvCacheFormat format() { return format; }

    /** Bytes one token's keys and values take over all layers and KV heads. */
    public long bytesPerToken() { return 2L * layers * kvHeads * headDim * (format.quantized() ? 1 : 4); }

    public int layers() { return layers; }
    public int kvHeads() { return kvHeads; }
    public int headDim() { return headDim; }
    public int blockSize() { return blocks.blockSize(); }
    public int numBlocks() { return blocks.numBlocks(); }
    public int freeBlocks() { return blocks.freeBlocks(); }
    public int allocatedBlocks() { return blocks.allocatedBlocks(); }
    /** Tokens stored over all sequences. */
    public long liveTokens() { return blocks.liveTokens(); }

    /** The block bookkeeping (free list, block tables, lengths), shared in kind with {@link GpuPagedKvCache}. */
    public KvBlockAllocator allocator() { return blocks; }

    /** Live tokens over allocated token slots (1 when nothing is allocated: no slot is wasted). */
    public double utilisation() { return blocks.utilisation(); }

    /** Blocks a sequence of {@code tokens} tokens occupies. */
    public int blocksFor(int tokens) { return blocks.blocksFor(tokens); }

    public boolean contains(String seq) { return blocks.contains(seq); }

    /** The sequence's stored length; 0 for an unknown sequence. */
    public int length(String seq) { return blocks.length(seq); }

    /** The sequence's block table (block ids in token order). */
    public List<Integer> blockTable(String seq) { return blocks.blockTable(seq); }

    /** The owner of a block, or null when it is free. */
    public String owner(int block) { return blocks.owner(block); }

    /** Whether {@code extra} more tokens of {@code seq} (new or known) fit in its blocks plus the free ones. */
    public boolean canReserve(String seq, int extra) { return blocks.canReserve(seq, extra); }

    /**
     * Makes room for {@code extra} more tokens of {@code seq} (a new sequence starts empty),
     * taking blocks from the free list. All or nothing: when the free blocks do not suffice,
     * nothing changes and {@link KvCacheExhaustedException} names the sequence and the shortfall.
     */
    public void reserve(String seq, int extra) { blocks.reserve(seq, extra); }

    /**
     * Appends one token's keys and values, {@code key[layer]} and {@code value[layer]} holding
     * [kvHeads * headDim] floats each, at the sequence's next position, which must be reserved.
     */
    public void append(String seq, float[][] key, float[][] value) {
        int at = blocks.nextSlot(seq), bs = blocks.blockSize();
        if (key.length != layers || value.length != layers)
            throw new IllegalArgumentException("sequence " + seq + ": a token has keys and values for " + layers + " layers, got " + key.length + " and " + value.length);
        int block = at / bs, slot = at % bs;
        for (int l = 0; l < layers; l++) {
            if (key[l].length != kvHeads * headDim || value[l].length != kvHeads * headDim)
                throw new IllegalArgumentException("sequence " + seq + ", layer " + l + ": a token's key and value hold " + kvHeads + " x " + headDim
                        + " floats, got " + key[l].length + " and " + value[l].length);
            for (int h = 0; h < kvHeads; h++) {
                int base = offset(block, h, slot);
                if (format.quantized()) {
                    float ks = format.keyScale(l), vs = format.valueScale(l);
                    for (int d = 0; d < headDim; d++) {
                        keyCodes[l][base + d] = (byte) KvCacheFormat.quantize(key[l][h * headDim + d], ks);
                        valueCodes[l][base + d] = (byte) KvCacheFormat.quantize(value[l][h * headDim + d], vs);
                    }
                } else {
                    System.arraycopy(key[l], h * headDim, keys[l], base, headDim);
                    System.arraycopy(value[l], h * headDim, values[l], base, headDim);
                }
            }
        }
        blocks.advance(seq, 1);
    }

    /** Index of (block, kvHead, slot)'s first float in a layer's K or V array. */
    int offset(int block, int head, int slot) { return ((block * kvHeads + head) * blocks.blockSize() + slot) * headDim; }

    /** A native cache's K (or V) array of one layer. */
    float[] keys(int layer) { return native_(keys)[layer]; }
    float[] values(int layer) { return native_(values)[layer]; }

    /** An FP8 cache's K (or V) codes of one layer. */
    byte[] keyCodes(int layer) { return codes(keyCodes)[layer]; }
    byte[] valueCodes(int layer) { return codes(valueCodes)[layer]; }

    private float[][] native_(float[][] a) {
        if (a == null) throw new IllegalStateException("the KV cache holds " + format.describe() + " codes, not f32");
        return a;
    }

    private byte[][] codes(byte[][] a) {
        if (a == null) throw new IllegalStateException("the KV cache holds f32, not FP8 codes");
        return a;
    }

    /** Copies {@code n} keys (or values) of one layer from element {@code src} into {@code dst} at {@code at}, dequantized. */
    void load(int layer, boolean value, int src, float[] dst, int at, int n) {
        if (!format.quantized()) {
            System.arraycopy(value ? values[layer] : keys[layer], src, dst, at, n);
            return;
        }
        byte[] c = value ? valueCodes[layer] : keyCodes[layer];
        float s = value ? format.valueScale(layer) : format.keyScale(layer);
        for (int i = 0; i < n; i++) dst[at + i] = Float8E4M3.toFloat(c[src + i] & 0xff) * s;
    }

    /** Copies token {@code position}'s key (or value) for one head into {@code dst} at {@code at}. */
    public void read(String seq, int layer, int position, int head, boolean value, float[] dst, int at) {
        int length = blocks.length(seq), bs = blocks.blockSize();
        List<Integer> table = blocks.blockTable(seq);
        if (position >= length) throw new IllegalArgumentException("sequence " + seq + ": position " + position + " is past its length " + length);
        load(layer, value, offset(table.get(position / bs), head, position % bs), dst, at, headDim);
    }

    /**
     * The contiguous cache a decoder graph takes as {@code past_key_values.N.key} (or
     * {@code .value}): [rows, kvHeads, past, headDim], row r holding sequence {@code seqs.get(r)}'s
     * first tokens in order and zeros after its length (slots the attention mask hides); a null
     * sequence is an all-zero padding row.
     */
    public Tensor gather(List<String> seqs, int layer, int past, boolean value) {
        int rows = seqs.size(), bs = blocks.blockSize();
        float[] out = new float[Math.multiplyExact(Math.multiplyExact(rows * kvHeads, past), headDim)];
        for (int r = 0; r < rows; r++) {
            if (seqs.get(r) == null) continue;
            List<Integer> table = blocks.blockTable(seqs.get(r));
            int length = blocks.length(seqs.get(r));
            if (length > past) throw new IllegalArgumentException("sequence " + seqs.get(r) + " holds " + length + " tokens, more than the " + past + " gathered");
            for (int h = 0; h < kvHeads; h++)
                for (int p = 0; p < length; p++)
                    load(layer, value, offset(table.get(p / bs), h, p % bs), out, ((r * kvHeads + h) * past + p) * headDim, headDim);
        }
        return Tensor.ofFloats(Shape.of(rows, kvHeads, past, headDim), out);
    }

    /**
     * Forgets the sequence's tokens from {@code length} on (rejected speculative tokens), returning
     * blocks no longer needed to the free list.
     */
    public void truncate(String seq, int length) { blocks.truncate(seq, length); }

    /** Returns the sequence's blocks to the free list (a no-op for an unknown sequence). */
    public void free(String seq) { blocks.free(seq); }
    /** The keys and values are host arrays, which the garbage collector frees: nothing to do. */
    @Override public void close() {}
}

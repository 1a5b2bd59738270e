package org.tessel.runtime.llm;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

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
 * <p>Not thread-safe: one scheduler owns it.
 */
public final class PagedKvCache {
    private final int layers, kvHeads, headDim, blockSize, numBlocks;
    private final float[][] keys, values;
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    /** The sequence owning each block, or null when free. */
    private final String[] owner;
    private final Map<String, Sequence> sequences = new LinkedHashMap<>();
    private long liveTokens;

    /** One sequence's block table and length (tokens whose K and V are stored). */
    private static final class Sequence {
        final List<Integer> blocks = new ArrayList<>();
        int length;
    }

    public PagedKvCache(int layers, int kvHeads, int headDim, int blockSize, int numBlocks) {
        if (layers < 1 || kvHeads < 1 || headDim < 1) throw new IllegalArgumentException("layers, kvHeads and headDim must be positive, got " + layers + ", " + kvHeads + ", " + headDim);
        if (blockSize < 1) throw new IllegalArgumentException("block size must be at least 1 token, got " + blockSize);
        if (numBlocks < 1) throw new IllegalArgumentException("the cache needs at least 1 block, got " + numBlocks);
        long floats = (long) numBlocks * blockSize * kvHeads * headDim;
        if (floats > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException(numBlocks + " blocks of " + blockSize + " tokens x " + kvHeads + " KV heads x " + headDim + " need " + floats + " floats per layer, more than one array holds");
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.keys = new float[layers][(int) floats];
        this.values = new float[layers][(int) floats];
        this.owner = new String[numBlocks];
        for (int b = 0; b < numBlocks; b++) free.add(b);
    }

    public int layers() { return layers; }
    public int kvHeads() { return kvHeads; }
    public int headDim() { return headDim; }
    public int blockSize() { return blockSize; }
    public int numBlocks() { return numBlocks; }
    public int freeBlocks() { return free.size(); }
    public int allocatedBlocks() { return numBlocks - free.size(); }
    /** Tokens stored over all sequences. */
    public long liveTokens() { return liveTokens; }

    /** Live tokens over allocated token slots (1 when nothing is allocated: no slot is wasted). */
    public double utilisation() {
        long slots = (long) allocatedBlocks() * blockSize;
        return slots == 0 ? 1 : (double) liveTokens / slots;
    }

    /** Blocks a sequence of {@code tokens} tokens occupies. */
    public int blocksFor(int tokens) { return (tokens + blockSize - 1) / blockSize; }

    public boolean contains(String seq) { return sequences.containsKey(seq); }

    /** The sequence's stored length; 0 for an unknown sequence. */
    public int length(String seq) {
        Sequence s = sequences.get(seq);
        return s == null ? 0 : s.length;
    }

    /** The sequence's block table (block ids in token order). */
    public List<Integer> blockTable(String seq) { return Collections.unmodifiableList(sequence(seq).blocks); }

    /** The owner of a block, or null when it is free. */
    public String owner(int block) { return owner[block]; }

    /** Whether {@code extra} more tokens of {@code seq} (new or known) fit in its blocks plus the free ones. */
    public boolean canReserve(String seq, int extra) {
        Sequence s = sequences.get(seq);
        int length = s == null ? 0 : s.length, held = s == null ? 0 : s.blocks.size();
        return blocksFor(length + extra) - held <= free.size();
    }

    /**
     * Makes room for {@code extra} more tokens of {@code seq} (a new sequence starts empty),
     * taking blocks from the free list. All or nothing: when the free blocks do not suffice,
     * nothing changes and {@link KvCacheExhaustedException} names the sequence and the shortfall.
     */
    public void reserve(String seq, int extra) {
        if (extra < 0) throw new IllegalArgumentException("sequence " + seq + ": cannot reserve " + extra + " tokens");
        Sequence s = sequences.get(seq);
        int length = s == null ? 0 : s.length, held = s == null ? 0 : s.blocks.size();
        int need = blocksFor(length + extra) - held;
        if (need > free.size())
            throw new KvCacheExhaustedException(seq, "sequence " + seq + " needs " + need + " more KV block(s) of " + blockSize + " tokens for " + (length + extra)
                    + " tokens, and " + free.size() + " of " + numBlocks + " are free");
        if (s == null) sequences.put(seq, s = new Sequence());
        for (int i = 0; i < need; i++) {
            int b = free.poll();
            if (owner[b] != null) throw new IllegalStateException("KV block " + b + " on the free list is owned by " + owner[b]);
            owner[b] = seq;
            s.blocks.add(b);
        }
    }

    /**
     * Appends one token's keys and values, {@code key[layer]} and {@code value[layer]} holding
     * [kvHeads * headDim] floats each, at the sequence's next position, which must be reserved.
     */
    public void append(String seq, float[][] key, float[][] value) {
        Sequence s = sequence(seq);
        int position = s.length;
        if (position >= s.blocks.size() * blockSize)
            throw new IllegalStateException("sequence " + seq + ": position " + position + " is not reserved (" + s.blocks.size() * blockSize + " slots); reserve before appending");
        if (key.length != layers || value.length != layers)
            throw new IllegalArgumentException("sequence " + seq + ": a token has keys and values for " + layers + " layers, got " + key.length + " and " + value.length);
        int block = s.blocks.get(position / blockSize), slot = position % blockSize;
        for (int l = 0; l < layers; l++) {
            if (key[l].length != kvHeads * headDim || value[l].length != kvHeads * headDim)
                throw new IllegalArgumentException("sequence " + seq + ", layer " + l + ": a token's key and value hold " + kvHeads + " x " + headDim
                        + " floats, got " + key[l].length + " and " + value[l].length);
            for (int h = 0; h < kvHeads; h++) {
                int base = offset(block, h, slot);
                System.arraycopy(key[l], h * headDim, keys[l], base, headDim);
                System.arraycopy(value[l], h * headDim, values[l], base, headDim);
            }
        }
        s.length++;
        liveTokens++;
    }

    /** Index of (block, kvHead, slot)'s first float in a layer's K or V array. */
    int offset(int block, int head, int slot) { return ((block * kvHeads + head) * blockSize + slot) * headDim; }

    float[] keys(int layer) { return keys[layer]; }
    float[] values(int layer) { return values[layer]; }

    /** Copies token {@code position}'s key (or value) for one head into {@code dst} at {@code at}. */
    public void read(String seq, int layer, int position, int head, boolean value, float[] dst, int at) {
        Sequence s = sequence(seq);
        if (position >= s.length) throw new IllegalArgumentException("sequence " + seq + ": position " + position + " is past its length " + s.length);
        System.arraycopy(value ? values[layer] : keys[layer], offset(s.blocks.get(position / blockSize), head, position % blockSize), dst, at, headDim);
    }

    /**
     * The contiguous cache a decoder graph takes as {@code past_key_values.N.key} (or
     * {@code .value}): [rows, kvHeads, past, headDim], row r holding sequence {@code seqs.get(r)}'s
     * first tokens in order and zeros after its length (slots the attention mask hides); a null
     * sequence is an all-zero padding row.
     */
    public Tensor gather(List<String> seqs, int layer, int past, boolean value) {
        int rows = seqs.size();
        float[] out = new float[Math.multiplyExact(Math.multiplyExact(rows * kvHeads, past), headDim)];
        float[] src = value ? values[layer] : keys[layer];
        for (int r = 0; r < rows; r++) {
            if (seqs.get(r) == null) continue;
            Sequence s = sequence(seqs.get(r));
            if (s.length > past) throw new IllegalArgumentException("sequence " + seqs.get(r) + " holds " + s.length + " tokens, more than the " + past + " gathered");
            for (int h = 0; h < kvHeads; h++)
                for (int p = 0; p < s.length; p++)
                    System.arraycopy(src, offset(s.blocks.get(p / blockSize), h, p % blockSize), out, ((r * kvHeads + h) * past + p) * headDim, headDim);
        }
        return Tensor.ofFloats(Shape.of(rows, kvHeads, past, headDim), out);
    }

    /**
     * Forgets the sequence's tokens from {@code length} on (rejected speculative tokens), returning
     * blocks no longer needed to the free list.
     */
    public void truncate(String seq, int length) {
        Sequence s = sequence(seq);
        if (length < 0 || length > s.length) throw new IllegalArgumentException("sequence " + seq + ": cannot truncate " + s.length + " tokens to " + length);
        liveTokens -= s.length - length;
        s.length = length;
        while (s.blocks.size() > blocksFor(length)) {
            int b = s.blocks.removeLast();
            owner[b] = null;
            free.add(b);
        }
    }

    /** Returns the sequence's blocks to the free list (a no-op for an unknown sequence). */
    public void free(String seq) {
        Sequence s = sequences.remove(seq);
        if (s == null) return;
        for (int b : s.blocks) {
            if (!seq.equals(owner[b])) throw new IllegalStateException("sequence " + seq + " frees KV block " + b + " owned by " + owner[b]);
            owner[b] = null;
            free.add(b);
        }
        liveTokens -= s.length;
    }

    private Sequence sequence(String seq) {
        Sequence s = sequences.get(seq);
        if (s == null) throw new IllegalArgumentException("no sequence " + seq + " in the KV cache");
        return s;
    }
}

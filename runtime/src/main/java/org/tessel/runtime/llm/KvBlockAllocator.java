package org.tessel.runtime.llm;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The block bookkeeping of a paged KV cache, apart from where the keys and values live: a free
 * list of {@code numBlocks} blocks of {@code blockSize} token slots, each sequence's block table
 * (block ids in token order) and stored length. {@link PagedKvCache} (host arrays) and
 * {@link GpuPagedKvCache} (device pools) both keep their blocks here, so allocation, refusal,
 * truncation and utilisation behave the same on both.
 *
 * <p>Not thread-safe: one scheduler owns it.
 */
public final class KvBlockAllocator {
    private final int blockSize, numBlocks;
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

    public KvBlockAllocator(int blockSize, int numBlocks) {
        if (blockSize < 1) throw new IllegalArgumentException("block size must be at least 1 token, got " + blockSize);
        if (numBlocks < 1) throw new IllegalArgumentException("the cache needs at least 1 block, got " + numBlocks);
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.owner = new String[numBlocks];
        for (int b = 0; b < numBlocks; b++) free.add(b);
    }

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

    /** Token slots the sequence's blocks hold (its length plus what is reserved beyond it). */
    public int reservedSlots(String seq) { return sequence(seq).blocks.size() * blockSize; }

    /** The sequence's block table (block ids in token order). */
    public List<Integer> blockTable(String seq) { return Collections.unmodifiableList(sequence(seq).blocks); }

    /** The owner of a block, or null when it is free. */
    public String owner(int block) { return owner[block]; }

    /** Blocks {@code extra} more tokens of {@code seq} (new or known) take from the free list. */
    public int blocksNeeded(String seq, int extra) {
        Sequence s = sequences.get(seq);
        int length = s == null ? 0 : s.length, held = s == null ? 0 : s.blocks.size();
        return Math.max(0, blocksFor(length + extra) - held);
    }

    /** Whether {@code extra} more tokens of {@code seq} (new or known) fit in its blocks plus the free ones. */
    public boolean canReserve(String seq, int extra) { return blocksNeeded(seq, extra) <= free.size(); }

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
     * The (block, slot) of the sequence's next token, {@code position = length(seq)}, as
     * {@code block * blockSize + slot}; the position must be reserved.
     */
    public int nextSlot(String seq) {
        Sequence s = sequence(seq);
        int position = s.length;
        if (position >= s.blocks.size() * blockSize)
            throw new IllegalStateException("sequence " + seq + ": position " + position + " is not reserved (" + s.blocks.size() * blockSize + " slots); reserve before appending");
        return s.blocks.get(position / blockSize) * blockSize + position % blockSize;
    }

    /** Counts {@code tokens} more tokens of {@code seq} as stored (their slots must be reserved). */
    public void advance(String seq, int tokens) {
        Sequence s = sequence(seq);
        if (tokens < 0 || s.length + tokens > s.blocks.size() * blockSize)
            throw new IllegalStateException("sequence " + seq + ": position " + (s.length + Math.max(tokens, 1) - 1) + " is not reserved (" + s.blocks.size() * blockSize
                    + " slots); reserve before appending");
        s.length += tokens;
        liveTokens += tokens;
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
